{{/* Names and labels shared by every template. */}}

{{- define "durable.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `<release>-durable`, or just the release name when it already says durable; 52 characters leave room for the
longest suffix (`-prometheus-adapter`) within the 63 of a label value. */}}
{{- define "durable.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 44 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 44 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 44 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "durable.operatorName" -}}
{{- printf "%s-operator" (include "durable.fullname" .) }}
{{- end }}

{{- define "durable.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: durable
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component (operator, beanstalkd, rethinkdb): never change them in an upgrade, a
Deployment's selector is immutable. */}}
{{- define "durable.selectorLabels" -}}
app.kubernetes.io/name: {{ include "durable.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "durable.componentLabels" -}}
{{ include "durable.labels" .root }}
{{ include "durable.selectorLabels" . }}
{{- end }}

{{- define "durable.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "durable.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "durable.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "durable.beanstalkdName" -}}
{{- printf "%s-beanstalkd" (include "durable.fullname" .) }}
{{- end }}

{{- define "durable.rethinkdbName" -}}
{{- printf "%s-rethinkdb" (include "durable.fullname" .) }}
{{- end }}

{{/* The namespace the operator and its workers' ServiceMonitor watch: one namespace, or all. */}}
{{- define "durable.watchNamespace" -}}
{{- .Values.operator.watchNamespace }}
{{- end }}

{{/*
The operator's RBAC rules, exactly those of its contract (docs/architecture.md, The operator): rendered into a
ClusterRole, or into a Role in the watched namespace. It must hold every permission it grants the workers' Roles
(Kubernetes refuses to let it grant more than it has), hence the Leases.
*/}}
{{- define "durable.operatorRules" -}}
- apiGroups: [durable.dev]
  resources: [workflows, entities]
  verbs: [get, list, watch, update, patch]
- apiGroups: [durable.dev]
  resources: [workflows/status, entities/status]
  verbs: [get, update, patch]
- apiGroups: [durable.dev]
  resources: [workflows/finalizers, entities/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ['']
  resources: [serviceaccounts, services]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ['']
  resources: [configmaps]
  verbs: [get]
- apiGroups: ['']
  resources: [events]
  verbs: [create, patch]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* The PromQL behind durable_queue_depth: every worker of a pool reports every tube it serves, so the same
depth arrives once per worker. max per tube and state removes the duplicates; sum adds the tubes. */}}
{{- define "durable.queueDepthQuery" -}}
sum by (namespace, service) (max by (namespace, service, tube, state) (durable_tube_depth{state=~"{{ join "|" .Values.prometheusAdapter.states }}",<<.LabelMatchers>>}))
{{- end }}
