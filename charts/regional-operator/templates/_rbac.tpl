{{/*
The operator's permissions, least privilege. The managed-resource rules come from files/managed-kinds.yaml, which
hack/sync_chart_crds.py generates from the renderer's KINDS table (tests/cluster/test_chart.py checks the rendered RBAC
against KINDS exactly), so a new kind cannot ship without its permission, and nothing else is granted: no
Secrets, no wildcards, no Crossplane kind the renderer does not emit.
*/}}

{{/* Rules for namespaced resources: a Role per watched namespace, or part of the ClusterRole. */}}
{{- define "regional-operator.namespacedRules" -}}
# The RegionalDeployment CRD: kopf lists/watches it and patches finalizers and its progress annotations.
- apiGroups: [platform.regional.io]
  resources: [regionaldeployments]
  verbs: [get, list, watch, patch, update]
# Conditions, outputs and deletion progress (a merge patch of the status subresource).
- apiGroups: [platform.regional.io]
  resources: [regionaldeployments/status]
  verbs: [patch, update]
# Every Crossplane managed-resource kind the renderer emits: server-side apply (patch; create when new),
# the label-selected watches behind kopf's indexes, and ordered deletion.
{{- $kinds := .Files.Get "files/managed-kinds.yaml" | fromYaml }}
{{- range $kinds.groups }}
- apiGroups: [{{ .apiGroup }}]
  resources: [{{ join ", " .resources }}]
  verbs: [get, list, watch, create, patch, update, delete]
{{- end }}
# Kubernetes Events about RegionalDeployments (kopf.info / kopf.warn post core/v1 Events).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- if and (include "regional-operator.peering" .) (include "regional-operator.namespaced" .) }}
# kopf peering in namespaced mode: one KopfPeering per watched namespace (replicas > 1 only).
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}

{{/* Rules only a ClusterRole can hold. */}}
{{- define "regional-operator.clusterRules" -}}
# kopf scans the CRDs at start-up and watches them to notice kinds being added or removed.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
{{- if include "regional-operator.namespaced" . }}
# kopf with --namespace lists and watches namespaces to follow the watched ones being deleted or re-created
# (kopf 1.45 _core/reactor/observation.py; with --all-namespaces it never reads namespaces).
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
{{- else if include "regional-operator.peering" . }}
# kopf peering in cluster-wide mode: one ClusterKopfPeering (replicas > 1 only).
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}
