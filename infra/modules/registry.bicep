// Container registry azd pushes the image to; the apps pull with their identities (no admin user).
param location string
param tags object
param name string

@description('Principals that may pull images (AcrPull on this registry only).')
param pullPrincipalIds array

var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_139:Private registry networking needs the Premium SKU and a VNet; pulls need Entra ID (AcrPull), admin user and anonymous pull are off.
  // checkov:skip=CKV_AZURE_166:Image quarantine needs the Premium SKU; images come only from `azd deploy` of this repository's Dockerfile.
  // checkov:skip=CKV_AZURE_163:Vulnerability scanning is Microsoft Defender for Containers, a subscription-level plan rather than a registry property.
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource pullRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in pullPrincipalIds: {
    name: guid(registry.id, principalId, roles.acrPull)
    scope: registry
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

output name string = registry.name
output loginServer string = registry.properties.loginServer
