// The read API and dashboard (`chargeback serve`): a Container App with HTTPS ingress, its own identity that may
// only read the lake (Storage Blob Data Reader, granted in storage.bicep), and Microsoft Entra ID settings as
// parameters. Environment variable names are exactly the CHARGEBACK_* settings the code reads.
param location string
param tags object
param name string
param environmentId string
param registryServer string
param image string
param identityId string
param clientId string
param appInsightsName string
param lakeUrl string
param lateDataDays int
param priceSheetUrl string

@description('Tenant whose access tokens the API accepts.')
param entraTenantId string

@description('Application ID URI (or client id) of the API\'s app registration: the audience every token must carry.')
param entraAudience string

@description('JSON object: token claim value (an Entra group object id) -> the teams a Chargeback.Read.Team caller may read.')
param groupTeams string = '{}'

@description('Port the API listens on inside the container.')
param port int = 8000

@minValue(0)
param minReplicas int = 0

@minValue(1)
param maxReplicas int = 2

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var priceSheetEnv = empty(priceSheetUrl) ? [] : [
  {
    name: 'CHARGEBACK_PRICE_SHEET'
    value: priceSheetUrl
  }
]
var apiEnv = concat([
  {
    name: 'CHARGEBACK_LAKE_URL'
    value: lakeUrl
  }
  {
    name: 'CHARGEBACK_LATE_DATA_DAYS'
    value: string(lateDataDays)
  }
  {
    name: 'CHARGEBACK_API_HOST'
    value: '0.0.0.0'
  }
  {
    name: 'CHARGEBACK_API_PORT'
    value: string(port)
  }
  {
    name: 'CHARGEBACK_API_AUTH'
    value: 'entra'
  }
  {
    name: 'CHARGEBACK_API_TENANT_ID'
    value: entraTenantId
  }
  {
    name: 'CHARGEBACK_API_AUDIENCE'
    value: entraAudience
  }
  {
    name: 'CHARGEBACK_API_GROUP_TEAMS'
    value: groupTeams
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: clientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    secretRef: 'appinsights-connection-string'
  }
], priceSheetEnv)

resource api 'Microsoft.App/containerApps@2025-01-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: port
        transport: 'http'
        allowInsecure: false
      }
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: [
        {
          name: 'appinsights-connection-string'
          value: appInsights.properties.ConnectionString
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'api'
          image: image
          command: [
            'chargeback'
          ]
          args: [
            'serve'
          ]
          env: apiEnv
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/api/v1/metrics'
                port: port
              }
              periodSeconds: 30
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/api/v1/health'
                port: port
              }
              periodSeconds: 15
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
      }
    }
  }
}

output name string = api.name
output url string = 'https://${api.properties.configuration.ingress.fqdn}'
