// Event Hubs: namespace with local (SAS) auth disabled, the usage hub, the consumer's group, and the two data
// roles scoped to the hub itself (not the namespace).
param location string
param tags object
param namespaceName string
param eventHubName string

@minValue(1)
@maxValue(32)
param partitionCount int

@minValue(1)
@maxValue(7)
param retentionDays int

param consumerGroupName string

@description('Principal that sends (the API Management identity).')
param senderPrincipalId string

@description('Principal that receives (the consumer identity).')
param receiverPrincipalId string

var roles = {
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    isAutoInflateEnabled: false
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: retentionDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
}

resource senderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, senderPrincipalId, roles.eventHubsDataSender)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataSender)
    principalId: senderPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource receiverRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, receiverPrincipalId, roles.eventHubsDataReceiver)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: receiverPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output namespaceName string = namespace.name
output namespaceHost string = '${namespace.name}.servicebus.windows.net'
output eventHubName string = hub.name
output consumerGroupName string = consumerGroup.name
