// A new API Management service (only when no existing one is named). Its user-assigned identity is the one the
// Event Hubs logger authenticates with.
param location string
param tags object
param name string

@allowed([
  'Developer'
  'BasicV2'
  'StandardV2'
  'Premium'
])
param sku string

param publisherEmail string

@description('Resource id of the user-assigned identity the logger uses.')
param identityId string

resource apim 'Microsoft.ApiManagement/service@2024-05-01' = {
  // checkov:skip=CKV_AZURE_107:The gateway fronts Azure OpenAI for teams' applications and must be reachable by them; VNet integration is a per-organisation choice (Premium/StandardV2), see infra/README.md.
  // checkov:skip=CKV_AZURE_174:Same reason as CKV_AZURE_107: callers reach the gateway publicly and authenticate with subscription keys or tokens.
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    capacity: 1
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    publisherEmail: publisherEmail
    publisherName: 'apim-chargeback'
  }
}

output name string = apim.name
output gatewayUrl string = apim.properties.gatewayUrl
