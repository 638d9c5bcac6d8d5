// One user-assigned identity per actor, so each gets only its own roles (granted where the resource lives).
param location string
param tags object
param apimIdentityName string
param consumerIdentityName string
param jobIdentityName string
param apiIdentityName string

@description('Used by a new API Management service to send to Event Hubs.')
resource apimIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: apimIdentityName
  location: location
  tags: tags
}

@description('Used by the consumer app: receive from Event Hubs, write the lake and checkpoints, pull its image.')
resource consumerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: consumerIdentityName
  location: location
  tags: tags
}

@description('Used by the nightly aggregation job: read and write the lake, pull its image.')
resource jobIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: jobIdentityName
  location: location
  tags: tags
}

@description('Used by the read API: read the lake, pull its image. Nothing else.')
resource apiIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: apiIdentityName
  location: location
  tags: tags
}

output apimIdentityId string = apimIdentity.id
output apimClientId string = apimIdentity.properties.clientId
output apimPrincipalId string = apimIdentity.properties.principalId
output consumerIdentityId string = consumerIdentity.id
output consumerClientId string = consumerIdentity.properties.clientId
output consumerPrincipalId string = consumerIdentity.properties.principalId
output jobIdentityId string = jobIdentity.id
output jobClientId string = jobIdentity.properties.clientId
output jobPrincipalId string = jobIdentity.properties.principalId
output apiIdentityId string = apiIdentity.id
output apiClientId string = apiIdentity.properties.clientId
output apiPrincipalId string = apiIdentity.properties.principalId
