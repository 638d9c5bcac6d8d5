// Container Apps: the environment (logs to Log Analytics through Azure Monitor, no shared key), the consumer
// app (scales on Event Hubs lag read from the SDK's blob checkpoints) and the nightly aggregation job.
// Environment variable names are exactly the CHARGEBACK_* settings the code reads.
param location string
param tags object
param environmentName string
param consumerAppName string
param jobName string
param logAnalyticsWorkspaceId string
param appInsightsName string
param registryServer string
param consumerIdentityId string
param consumerClientId string
param jobIdentityId string
param jobClientId string

@description('Namespace name (not the host): what the KEDA scaler expects.')
param eventHubNamespaceName string

@description('Fully qualified namespace: what the consumer expects.')
param eventHubNamespaceHost string

param eventHubName string
param consumerGroupName string

@minValue(1)
@maxValue(32)
@description('Event Hub partitions: the consumer never runs more replicas than this.')
param partitionCount int

param storageAccountName string
param lakeUrl string
param checkpointUrl string
param checkpointContainerName string
param payloadRetentionDays int
param deadLetterRetentionDays int
param lateDataDays int

@minValue(1)
@description('Closed days (yesterday back) the nightly compaction checks for small files to merge.')
param compactLookbackDays int

@description('The config container (storage module output configUrl): where the job reads its configuration files.')
param configUrl string

@description('Price sheet blob in the config container (CHARGEBACK_PRICE_SHEET); empty: the shipped sheet.')
param priceSheetBlob string

@description('Deployments map blob in the config container (CHARGEBACK_DEPLOYMENTS_CONFIG); empty: the shipped example.')
param deploymentsConfigBlob string

@description('PTU config blob in the config container (CHARGEBACK_PTU_CONFIG); empty: no provisioned deployments.')
param ptuConfigBlob string
@description('Budgets file in the config container (CHARGEBACK_BUDGETS_CONFIG); empty: no budget steps.')
param budgetsConfigBlob string = ''

@allowed([
  'dry-run'
  'enforce'
])
@description('CHARGEBACK_ENFORCEMENT of the nightly job: dry-run records what enforcement would do, enforce does it.')
param enforcement string = 'dry-run'

@description('The API Management service enforcement acts on (CHARGEBACK_APIM_*).')
param apimSubscriptionId string = ''
param apimResourceGroup string = ''
param apimServiceName string = ''

@secure()
@description('CHARGEBACK_WEBHOOKS (JSON list of {name, format, url}); a secret: webhook URLs carry tokens. Empty: none.')
param notificationWebhooks string = ''
param aggregationCron string
param consumerAppExists bool

@minValue(0)
@description('Replicas kept running with no lag. 0 scales to zero between bursts (cheapest, minutes of delay).')
param consumerMinReplicas int = 1

@minValue(1)
@description('Unprocessed events per replica before the scaler adds one.')
param unprocessedEventThreshold int = 1000

@description('Port of the consumer health endpoints (/healthz, /readyz).')
param healthPort int = 8080

@description('First deployment: a public placeholder image until `azd deploy` pushes the real one.')
param placeholderImage string = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource existingConsumer 'Microsoft.App/containerApps@2025-01-01' existing = if (consumerAppExists) {
  name: consumerAppName
}

var image = consumerAppExists ? existingConsumer.properties.template.containers[0].image : placeholderImage
var telemetrySecret = [
  {
    name: 'appinsights-connection-string'
    value: appInsights.properties.ConnectionString
  }
]
var consumerEnv = [
  {
    name: 'CHARGEBACK_EVENTHUB_NAMESPACE'
    value: eventHubNamespaceHost
  }
  {
    name: 'CHARGEBACK_EVENTHUB_NAME'
    value: eventHubName
  }
  {
    name: 'CHARGEBACK_CONSUMER_GROUP'
    value: consumerGroupName
  }
  {
    name: 'CHARGEBACK_CHECKPOINT_URL'
    value: checkpointUrl
  }
  {
    name: 'CHARGEBACK_LAKE_URL'
    value: lakeUrl
  }
  {
    name: 'CHARGEBACK_START_POSITION'
    value: 'earliest'
  }
  {
    name: 'CHARGEBACK_HEALTH_PORT'
    value: string(healthPort)
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: consumerClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    secretRef: 'appinsights-connection-string'
  }
]
var jobBaseEnv = [
  {
    name: 'CHARGEBACK_LAKE_URL'
    value: lakeUrl
  }
  {
    name: 'CHARGEBACK_LATE_DATA_DAYS'
    value: string(lateDataDays)
  }
  {
    name: 'CHARGEBACK_COMPACT_LOOKBACK_DAYS'
    value: string(compactLookbackDays)
  }
  {
    name: 'CHARGEBACK_PAYLOAD_RETENTION_DAYS'
    value: string(payloadRetentionDays)
  }
  {
    name: 'CHARGEBACK_DEAD_LETTER_RETENTION_DAYS'
    value: string(deadLetterRetentionDays)
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: jobClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    secretRef: 'appinsights-connection-string'
  }
]
// Configuration files: one entry per file setting, a blob of the config container (`chargeback config push` puts
// them there with these names). A new file (teams map, budgets) adds a param, a variable like these and its name
// in configFileEnv.
var priceSheetEnv = empty(priceSheetBlob) ? [] : [
  {
    name: 'CHARGEBACK_PRICE_SHEET'
    value: '${configUrl}/${priceSheetBlob}'
  }
]
var deploymentsConfigEnv = empty(deploymentsConfigBlob) ? [] : [
  {
    name: 'CHARGEBACK_DEPLOYMENTS_CONFIG'
    value: '${configUrl}/${deploymentsConfigBlob}'
  }
]
var ptuConfigEnv = empty(ptuConfigBlob) ? [] : [
  {
    name: 'CHARGEBACK_PTU_CONFIG'
    value: '${configUrl}/${ptuConfigBlob}'
  }
]
var budgetsConfigEnv = empty(budgetsConfigBlob) ? [] : [
  {
    name: 'CHARGEBACK_BUDGETS_CONFIG'
    value: '${configUrl}/${budgetsConfigBlob}'
  }
]
var configFileEnv = concat(priceSheetEnv, deploymentsConfigEnv, ptuConfigEnv, budgetsConfigEnv)
// Budgets, alerts, notifications and enforcement (finops/): the steps of `chargeback nightly` after the roll-up.
var finopsEnv = [
  {
    name: 'CHARGEBACK_ENFORCEMENT'
    value: enforcement
  }
  {
    name: 'CHARGEBACK_APIM_SUBSCRIPTION_ID'
    value: apimSubscriptionId
  }
  {
    name: 'CHARGEBACK_APIM_RESOURCE_GROUP'
    value: apimResourceGroup
  }
  {
    name: 'CHARGEBACK_APIM_SERVICE_NAME'
    value: apimServiceName
  }
]
var webhookSecret = empty(notificationWebhooks) ? [] : [
  {
    name: 'notification-webhooks'
    value: notificationWebhooks
  }
]
var webhookEnv = empty(notificationWebhooks) ? [] : [
  {
    name: 'CHARGEBACK_WEBHOOKS'
    secretRef: 'notification-webhooks'
  }
]
var jobEnv = concat(jobBaseEnv, configFileEnv, finopsEnv, webhookEnv)

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: environment
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource consumer 'Microsoft.App/containerApps@2025-01-01' = {
  name: consumerAppName
  location: location
  tags: union(tags, {
    'azd-service-name': 'consumer'
  })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${consumerIdentityId}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [
        {
          server: registryServer
          identity: consumerIdentityId
        }
      ]
      secrets: telemetrySecret
    }
    template: {
      containers: [
        {
          name: 'consumer'
          image: image
          command: [
            'chargeback'
          ]
          args: [
            'consume'
          ]
          env: consumerEnv
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          probes: [
            {
              type: 'Startup'
              httpGet: {
                path: '/healthz'
                port: healthPort
              }
              periodSeconds: 5
              failureThreshold: 24
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: healthPort
              }
              periodSeconds: 30
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: healthPort
              }
              periodSeconds: 15
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: min(consumerMinReplicas, partitionCount)
        maxReplicas: partitionCount
        rules: [
          {
            name: 'eventhub-lag'
            custom: {
              type: 'azure-eventhub'
              identity: consumerIdentityId
              metadata: {
                eventHubNamespace: eventHubNamespaceName
                eventHubName: eventHubName
                consumerGroup: consumerGroupName
                unprocessedEventThreshold: string(unprocessedEventThreshold)
                activationUnprocessedEventThreshold: '1'
                checkpointStrategy: 'blobMetadata'
                blobContainer: checkpointContainerName
                storageAccountName: storageAccountName
              }
            }
          }
        ]
      }
    }
  }
}

resource aggregationJob 'Microsoft.App/jobs@2025-01-01' = {
  name: jobName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${jobIdentityId}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Schedule'
      replicaTimeout: 7200
      replicaRetryLimit: 1
      scheduleTriggerConfig: {
        cronExpression: aggregationCron
        parallelism: 1
        replicaCompletionCount: 1
      }
      registries: [
        {
          server: registryServer
          identity: jobIdentityId
        }
      ]
      secrets: concat(telemetrySecret, webhookSecret)
    }
    template: {
      containers: [
        {
          // One entry point, the ordered nightly steps (aggregator/nightly.py): the job fails with the first failed
          // step's exit code; each step logs one JSON line.
          name: 'nightly'
          image: image
          command: [
            'chargeback'
          ]
          args: [
            'nightly'
          ]
          env: jobEnv
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
        }
      ]
    }
  }
}

output consumerAppName string = consumer.name
output jobName string = aggregationJob.name
output environmentId string = environment.id
output image string = image
