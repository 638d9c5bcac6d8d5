// The chargeback pieces inside API Management: the Event Hubs logger (managed identity, no connection string),
// the named values the policy reads, the policy fragments, and the API-level policy on the Azure OpenAI API.
// Deployed in the resource group of the API Management service, new or existing.
param apimName string

@description('Client id of the user-assigned identity attached to the service, or SystemAssigned.')
param loggerIdentityClientId string

@description('Fully qualified Event Hubs namespace, e.g. evhns-x.servicebus.windows.net.')
param eventHubNamespaceHost string

param eventHubName string
param openAiApiName string
param createOpenAiApi bool

@description('Azure OpenAI endpoint for a new API, e.g. https://my-aoai.openai.azure.com.')
param openAiEndpoint string

@secure()
param ipHashSalt string

@allowed([
  'buffer'
  'estimate'
])
param streamMode string = 'buffer'

@allowed([
  'none'
  'request'
  'response'
  'both'
])
param capture string = 'none'

@allowed([
  'hashed'
  'none'
  'plain'
])
param clientIp string = 'hashed'

param includeUsage bool = true
param tagHeaders string = 'x-team,x-cost-center,x-project'

var loggerId = 'chargeback-eventhub-logger'
var fragmentIds = [
  'chargeback-inbound'
  'chargeback-outbound'
  'chargeback-on-error'
]
var fragmentXml = {
  'chargeback-inbound': loadTextContent('../../producer_policy/fragments/chargeback-inbound.xml')
  'chargeback-outbound': loadTextContent('../../producer_policy/fragments/chargeback-outbound.xml')
  'chargeback-on-error': loadTextContent('../../producer_policy/fragments/chargeback-on-error.xml')
}
var namedValues = [
  {
    name: 'chargeback-stream-mode'
    value: streamMode
  }
  {
    name: 'chargeback-include-usage'
    value: includeUsage ? 'true' : 'false'
  }
  {
    name: 'chargeback-capture'
    value: capture
  }
  {
    name: 'chargeback-client-ip'
    value: clientIp
  }
  {
    name: 'chargeback-tag-headers'
    value: tagHeaders
  }
]

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

resource logger 'Microsoft.ApiManagement/service/loggers@2024-05-01' = {
  parent: apim
  name: loggerId
  properties: {
    loggerType: 'azureEventHub'
    description: 'apim-chargeback usage records (managed identity)'
    isBuffered: true
    credentials: {
      endpointAddress: eventHubNamespaceHost
      identityClientId: loggerIdentityClientId
      name: eventHubName
    }
  }
}

resource settings 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = [
  for nv in namedValues: {
    parent: apim
    name: nv.name
    properties: {
      displayName: nv.name
      value: nv.value
      secret: false
    }
  }
]

resource ipSalt 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'chargeback-ip-salt'
  properties: {
    displayName: 'chargeback-ip-salt'
    value: ipHashSalt
    secret: true
  }
}

resource fragments 'Microsoft.ApiManagement/service/policyFragments@2024-05-01' = [
  for id in fragmentIds: {
    parent: apim
    name: id
    properties: {
      description: 'apim-chargeback ${id}'
      format: 'rawxml'
      value: fragmentXml[id]
    }
    dependsOn: [
      logger
      settings
      ipSalt
    ]
  }
]

resource newApi 'Microsoft.ApiManagement/service/apis@2024-05-01' = if (createOpenAiApi) {
  parent: apim
  name: openAiApiName
  properties: {
    displayName: 'Azure OpenAI'
    path: 'openai'
    protocols: [
      'https'
    ]
    serviceUrl: '${openAiEndpoint}/openai'
    subscriptionRequired: true
    subscriptionKeyParameterNames: {
      header: 'api-key'
      query: 'subscription-key'
    }
  }
}

// The API may exist already (createOpenAiApi false), so the policy names its parent by path instead of a symbol.
resource apiPolicy 'Microsoft.ApiManagement/service/apis/policies@2024-05-01' = {
  name: '${apim.name}/${openAiApiName}/policy'
  properties: {
    format: 'rawxml'
    value: loadTextContent('../../producer_policy/policy.xml')
  }
  dependsOn: [
    fragments
    newApi
  ]
}

output loggerId string = logger.name
output apiName string = openAiApiName
