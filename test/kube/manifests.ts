/** Manifests the kubectl tests apply: what a Durable user deploys (ConfigMap, Lease, Deployment) and a CRD. */
export const configMap = (mode: string): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: durable}
data:
  mode: ${mode}
`;

export const lease = (holder: string): string => `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: partition-0
  labels: {app: durable}
spec:
  holderIdentity: ${holder}
  leaseDurationSeconds: 15
`;

export const deployment = (image: string): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  labels: {app: durable}
spec:
  replicas: 2
  selector:
    matchLabels: {app: durable}
  template:
    metadata:
      labels: {app: durable}
    spec:
      containers:
      - name: worker
        image: ${image}
        env:
        - {name: DURABLE_LOCK, value: kubernetes}
`;

export const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: durableapps.durable.dev
spec:
  group: durable.dev
  scope: Namespaced
  names: {plural: durableapps, singular: durableapp, kind: DurableApp, shortNames: [dapp]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Workers, type: integer, jsonPath: .spec.workers}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [image]
            properties:
              image: {type: string}
              workers: {type: integer, default: 3, minimum: 0}
          status:
            type: object
            properties:
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
`;

export const durableApp = (spec: string): string => `apiVersion: durable.dev/v1alpha1
kind: DurableApp
metadata: {name: shop}
spec: ${spec}
`;
