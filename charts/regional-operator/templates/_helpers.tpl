{{/* Names, labels and the few derived settings every template shares. */}}

{{- define "regional-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "regional-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "regional-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "regional-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "regional-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "regional-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: regional-operator
{{- end }}

{{- define "regional-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "regional-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "regional-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* "true" when kopf peering is on: explicitly, or automatically with more than one replica. */}}
{{- define "regional-operator.peering" -}}
{{- $replicas := int .Values.replicas }}
{{- if eq (toString .Values.peering.enabled) "<nil>" }}
{{- if gt $replicas 1 }}true{{ end }}
{{- else if .Values.peering.enabled }}true
{{- else if gt $replicas 1 }}
{{- fail "peering.enabled=false with replicas > 1 would run several active operators; enable peering or use 1 replica" }}
{{- end }}
{{- end }}

{{- define "regional-operator.peeringName" -}}
{{- default (include "regional-operator.fullname" .) .Values.peering.name }}
{{- end }}

{{/* "true" when the operator watches a fixed list of namespaces (Roles) instead of the whole cluster. */}}
{{- define "regional-operator.namespaced" -}}
{{- if .Values.watchNamespaces }}true{{ end }}
{{- end }}
