// The lake, the consumer's checkpoints and the configuration files of the nightly job (`config`). Entra ID only (no shared key, no SAS), no public blob access,
// TLS 1.2. Lifecycle rules delete captured bodies and dead letters after their retention.
param location string
param tags object
param accountName string
param lakeContainerName string
param checkpointContainerName string

@description('Container of the configuration files (price sheet, deployments map, PTU config...): `chargeback config push` writes it, the job reads it.')
param configContainerName string

@minValue(1)
param payloadRetentionDays int

@minValue(1)
param deadLetterRetentionDays int

@description('The consumer writes the lake and its checkpoints.')
param consumerPrincipalId string

@description('The aggregation job reads and rewrites the lake (roll-ups, compaction).')
param jobPrincipalId string

@description('Who runs `chargeback config push` (azd: the signed-in user, AZURE_PRINCIPAL_ID); empty: nobody is granted.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of deployerPrincipalId (ServicePrincipal when a pipeline deploys).')
param deployerPrincipalType string = 'User'

@description('The read API only reads the lake. Empty: no API deployed, no role.')
param apiPrincipalId string = ''

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Redundancy of the lake. The lake is the chargeback ledger once Event Hubs retention has passed.')
param skuName string = 'Standard_LRS'

var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:Container Apps on the Consumption profile reach storage over public endpoints (no VNet in this template); every request still needs Entra ID and RBAC, shared keys are off. infra/README.md shows how to add private endpoints.
  // checkov:skip=CKV_AZURE_59:Same reason as CKV_AZURE_35: the network path is public, blob public access itself is disabled (allowBlobPublicAccess false).
  // checkov:skip=CKV_AZURE_206:Locally redundant by default to keep cost down; set skuName to Standard_GRS or Standard_GZRS for geo-redundancy of the ledger.
  // checkov:skip=CKV_AZURE_43:The name is 'st' plus uniqueString() (lowercase alphanumeric, 15 characters); checkov cannot evaluate a parameter.
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource lakeContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: lakeContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource checkpointContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: checkpointContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource configContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: configContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'payload-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${lakeContainerName}/payloads/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: payloadRetentionDays
                }
              }
            }
          }
        }
        {
          name: 'dead-letter-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${lakeContainerName}/dead_letters/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: deadLetterRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

resource consumerLakeRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lakeContainer.id, consumerPrincipalId, roles.storageBlobDataContributor)
  scope: lakeContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: consumerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource consumerCheckpointRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(checkpointContainer.id, consumerPrincipalId, roles.storageBlobDataContributor)
  scope: checkpointContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: consumerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobLakeRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lakeContainer.id, jobPrincipalId, roles.storageBlobDataContributor)
  scope: lakeContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobConfigRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(configContainer.id, jobPrincipalId, roles.storageBlobDataReader)
  scope: configContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource apiLakeRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(apiPrincipalId)) {
  name: guid(lakeContainer.id, apiPrincipalId, roles.storageBlobDataReader)
  scope: lakeContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerConfigRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(configContainer.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: configContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource apiConfigRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(apiPrincipalId)) {
  name: guid(configContainer.id, apiPrincipalId, roles.storageBlobDataReader)
  scope: configContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output accountName string = account.name
output lakeUrl string = '${account.properties.primaryEndpoints.blob}${lakeContainer.name}'
output checkpointUrl string = '${account.properties.primaryEndpoints.blob}${checkpointContainer.name}'
output configUrl string = '${account.properties.primaryEndpoints.blob}${configContainer.name}'
