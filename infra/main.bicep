// apim-chargeback: everything `azd up` provisions. Subscription scope: creates the resource group, then one
// module per concern. No secrets anywhere: every data-plane call uses a managed identity and RBAC.
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

@minValue(1)
@maxValue(32)
@description('Event Hub partitions. Also caps the consumer replicas (one replica per partition at most).')
param eventHubPartitionCount int = 4

@minValue(1)
@maxValue(7)
@description('Days Event Hubs keeps events (Standard tier allows 1-7): how long the consumer may be down without loss.')
param eventHubRetentionDays int = 7

@description('Consumer group the chargeback consumer reads with.')
param consumerGroupName string = 'chargeback'

@minValue(1)
@description('Days before captured request/response bodies (lake prefix payloads/) are deleted.')
param payloadRetentionDays int = 30

@minValue(1)
@description('Days before dead-lettered records (lake prefix dead_letters/) are deleted.')
param deadLetterRetentionDays int = 90

@minValue(0)
@description('Days a closed day may still receive late records; the nightly job re-aggregates that many days.')
param lateDataDays int = 2

@description('Name of an existing API Management service to attach the policy to. Empty: create a new one.')
param existingApimName string = ''

@description('Resource group of the existing API Management service (same subscription).')
param existingApimResourceGroup string = ''

@allowed([
  'Developer'
  'BasicV2'
  'StandardV2'
  'Premium'
])
@description('SKU of the API Management service created when existingApimName is empty.')
param apimSku string = 'BasicV2'

@description('Publisher e-mail of a new API Management service.')
param apimPublisherEmail string = 'finops@example.com'

@description('Id (name) of the Azure OpenAI API in API Management that gets the chargeback policy.')
param openAiApiName string = 'azure-openai'

@description('true: create the Azure OpenAI API (needs openAiEndpoint). false: the API already exists.')
param createOpenAiApi bool = true

@description('Endpoint of the Azure OpenAI resource, e.g. https://my-aoai.openai.azure.com (for a new API).')
param openAiEndpoint string = ''

@description('Cron (UTC) of the nightly job (`chargeback nightly`: aggregate, compact, retention, ...).')
param aggregationCron string = '30 2 * * *'

@minValue(1)
@description('Closed days (yesterday back) the nightly compaction checks for small files to merge.')
param compactLookbackDays int = 7

@description('Price sheet in the config container (`chargeback config push --prices`); empty: the shipped sheet.')
param priceSheetBlob string = 'prices.csv'

@description('Deployments map in the config container (`chargeback config push --deployments`); empty: the shipped example (wrong for you).')
param deploymentsConfigBlob string = 'deployments.csv'

@description('PTU config in the config container (`chargeback config push --ptu`); empty: no provisioned deployments.')
param ptuConfigBlob string = 'ptu.json'

@description('Budgets file in the config container (`chargeback config push --budgets`); empty: no budgets.')
param budgetsConfigBlob string = 'budgets.csv'

@allowed([
  'dry-run'
  'enforce'
])
@description('Budget enforcement of the nightly job (CHARGEBACK_ENFORCEMENT): dry-run only records what it would do.')
param enforcement string = 'dry-run'

@secure()
@description('CHARGEBACK_WEBHOOKS of the nightly job: JSON list of {name, format (generic|slack|teams), url}. Never output.')
param notificationWebhooks string = ''

@description('Principal granted write access to the config container for `chargeback config push` (azd: you).')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of deployerPrincipalId.')
param deployerPrincipalType string = 'User'

@description('Application ID URI (or client id) of the read API\'s Entra app registration. Empty: the read API is not deployed.')
param apiAudience string = ''
@description('Tenant whose tokens the read API accepts (default: this subscription\'s tenant).')
param apiTenantId string = tenant().tenantId
@description('JSON object: Entra group object id -> teams its members may read with the Chargeback.Read.Team role.')
param apiGroupTeams string = '{}'
@description('Set by azd: true once the consumer app exists, so a re-provision keeps the deployed image.')
param consumerAppExists bool = false

@description('E-mail address for the near-real-time alert rules; empty: none.')
param alertEmail string = ''

@secure()
@description('Webhook for the near-real-time alert rules (common alert schema); empty: none. Never output.')
param alertWebhookUrl string = ''

@secure()
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 40
      special: false
    }
  }
})
@description('Salt for hashing client IPs in the policy (named value chargeback-ip-salt). azd generates it once per environment and keeps it; never output.')
param ipHashSalt string

var abbrs = {
  resourceGroup: 'rg-'
  logAnalytics: 'log-'
  appInsights: 'appi-'
  eventHubNamespace: 'evhns-'
  storage: 'st'
  registry: 'cr'
  apim: 'apim-'
  identity: 'id-'
  containerAppsEnvironment: 'cae-'
  containerApp: 'ca-'
  containerAppJob: 'caj-'
}
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  workload: 'apim-chargeback'
}
var useExistingApim = !empty(existingApimName)
var deployApi = !empty(apiAudience)
var apimName = useExistingApim ? existingApimName : '${abbrs.apim}${token}'
var apimResourceGroupName = useExistingApim ? existingApimResourceGroup : rg.name
var eventHubName = 'apim-usage'
var lakeContainerName = 'lake'
var checkpointContainerName = 'checkpoints'
var configContainerName = 'config'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.logAnalytics}${token}'
    appInsightsName: '${abbrs.appInsights}${token}'
  }
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: tags
    apimIdentityName: '${abbrs.identity}apim-${token}'
    consumerIdentityName: '${abbrs.identity}consumer-${token}'
    jobIdentityName: '${abbrs.identity}aggregator-${token}'
    apiIdentityName: '${abbrs.identity}api-${token}'
  }
}

module apimService 'modules/apim-service.bicep' = if (!useExistingApim) {
  name: 'apim-service'
  scope: rg
  params: {
    location: location
    tags: tags
    name: apimName
    sku: apimSku
    publisherEmail: apimPublisherEmail
    identityId: identities.outputs.apimIdentityId
  }
}

module apimPrincipal 'modules/apim-principal.bicep' = if (useExistingApim) {
  name: 'apim-principal'
  scope: resourceGroup(apimResourceGroupName)
  params: {
    apimName: apimName
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  scope: rg
  params: {
    location: location
    tags: tags
    namespaceName: '${abbrs.eventHubNamespace}${token}'
    eventHubName: eventHubName
    partitionCount: eventHubPartitionCount
    retentionDays: eventHubRetentionDays
    consumerGroupName: consumerGroupName
    senderPrincipalId: useExistingApim ? apimPrincipal.outputs.principalId : identities.outputs.apimPrincipalId
    receiverPrincipalId: identities.outputs.consumerPrincipalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    accountName: '${abbrs.storage}${token}'
    lakeContainerName: lakeContainerName
    checkpointContainerName: checkpointContainerName
    configContainerName: configContainerName
    payloadRetentionDays: payloadRetentionDays
    deadLetterRetentionDays: deadLetterRetentionDays
    consumerPrincipalId: identities.outputs.consumerPrincipalId
    jobPrincipalId: identities.outputs.jobPrincipalId
    apiPrincipalId: deployApi ? identities.outputs.apiPrincipalId : ''
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.registry}${token}'
    pullPrincipalIds: [
      identities.outputs.consumerPrincipalId
      identities.outputs.jobPrincipalId
      identities.outputs.apiPrincipalId
    ]
  }
}

module apimChargeback 'modules/apim-chargeback.bicep' = {
  name: 'apim-chargeback'
  scope: resourceGroup(apimResourceGroupName)
  params: {
    apimName: apimName
    loggerIdentityClientId: useExistingApim ? 'SystemAssigned' : identities.outputs.apimClientId
    eventHubNamespaceHost: eventHubs.outputs.namespaceHost
    eventHubName: eventHubs.outputs.eventHubName
    openAiApiName: openAiApiName
    createOpenAiApi: createOpenAiApi
    openAiEndpoint: openAiEndpoint
    ipHashSalt: ipHashSalt
  }
  dependsOn: [
    apimService
  ]
}

module finopsApim 'modules/finops-apim.bicep' = {
  name: 'finops-apim'
  scope: resourceGroup(apimResourceGroupName)
  params: {
    apimName: apimName
    enforcerPrincipalId: identities.outputs.jobPrincipalId
  }
  dependsOn: [
    apimService
  ]
}

module finopsAlerts 'modules/finops-alerts.bicep' = {
  name: 'finops-alerts'
  scope: rg
  params: {
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    apimId: '/subscriptions/${subscription().subscriptionId}/resourceGroups/${apimResourceGroupName}/providers/Microsoft.ApiManagement/service/${apimName}'
    actionGroupName: 'ag-chargeback-${token}'
    alertEmail: alertEmail
    alertWebhookUrl: alertWebhookUrl
  }
  dependsOn: [
    apimService
  ]
}

module containerApps 'modules/container-apps.bicep' = {
  name: 'container-apps'
  scope: rg
  params: {
    location: location
    tags: tags
    environmentName: '${abbrs.containerAppsEnvironment}${token}'
    consumerAppName: '${abbrs.containerApp}consumer-${token}'
    jobName: '${abbrs.containerAppJob}aggregate-${token}'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    appInsightsName: monitoring.outputs.appInsightsName
    registryServer: registry.outputs.loginServer
    consumerIdentityId: identities.outputs.consumerIdentityId
    consumerClientId: identities.outputs.consumerClientId
    jobIdentityId: identities.outputs.jobIdentityId
    jobClientId: identities.outputs.jobClientId
    eventHubNamespaceName: eventHubs.outputs.namespaceName
    eventHubNamespaceHost: eventHubs.outputs.namespaceHost
    eventHubName: eventHubs.outputs.eventHubName
    consumerGroupName: eventHubs.outputs.consumerGroupName
    partitionCount: eventHubPartitionCount
    storageAccountName: storage.outputs.accountName
    lakeUrl: storage.outputs.lakeUrl
    checkpointUrl: storage.outputs.checkpointUrl
    checkpointContainerName: checkpointContainerName
    payloadRetentionDays: payloadRetentionDays
    deadLetterRetentionDays: deadLetterRetentionDays
    lateDataDays: lateDataDays
    compactLookbackDays: compactLookbackDays
    configUrl: storage.outputs.configUrl
    priceSheetBlob: priceSheetBlob
    deploymentsConfigBlob: deploymentsConfigBlob
    ptuConfigBlob: ptuConfigBlob
    budgetsConfigBlob: budgetsConfigBlob
    enforcement: enforcement
    apimSubscriptionId: subscription().subscriptionId
    apimResourceGroup: apimResourceGroupName
    apimServiceName: apimName
    notificationWebhooks: notificationWebhooks
    aggregationCron: aggregationCron
    consumerAppExists: consumerAppExists
  }
}

module apiApp 'modules/api-app.bicep' = if (deployApi) {
  name: 'api-app'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.containerApp}api-${token}'
    environmentId: containerApps.outputs.environmentId
    registryServer: registry.outputs.loginServer
    image: containerApps.outputs.image
    identityId: identities.outputs.apiIdentityId
    clientId: identities.outputs.apiClientId
    appInsightsName: monitoring.outputs.appInsightsName
    lakeUrl: storage.outputs.lakeUrl
    lateDataDays: lateDataDays
    priceSheetUrl: empty(priceSheetBlob) ? '' : '${storage.outputs.configUrl}/${priceSheetBlob}'
    entraTenantId: apiTenantId
    entraAudience: apiAudience
    groupTeams: apiGroupTeams
  }
}

// azd writes these to .azure/<env>/.env. Names are environment variables; where the apps read the same value,
// the name is the app's own setting (CHARGEBACK_*) so `azd env get-values` can drive a local run.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_APIM_NAME string = apimName
output AZURE_APIM_RESOURCE_GROUP string = apimResourceGroupName
output AZURE_AGGREGATION_JOB_NAME string = containerApps.outputs.jobName
output SERVICE_CONSUMER_NAME string = containerApps.outputs.consumerAppName
output CHARGEBACK_EVENTHUB_NAMESPACE string = eventHubs.outputs.namespaceHost
output CHARGEBACK_EVENTHUB_NAME string = eventHubs.outputs.eventHubName
output CHARGEBACK_CONSUMER_GROUP string = eventHubs.outputs.consumerGroupName
output CHARGEBACK_LAKE_URL string = storage.outputs.lakeUrl
output CHARGEBACK_CHECKPOINT_URL string = storage.outputs.checkpointUrl
output CHARGEBACK_CONFIG_URL string = storage.outputs.configUrl
output AZURE_API_APP_NAME string = deployApi ? apiApp.outputs.name : ''
output AZURE_API_URL string = deployApi ? apiApp.outputs.url : ''
