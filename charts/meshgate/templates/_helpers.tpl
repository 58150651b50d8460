{{- define "meshgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "meshgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The labels that select the pods (never change across upgrades). */}}
{{- define "meshgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meshgate.labels" -}}
{{ include "meshgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.labels and metadata.annotations of every object. */}}
{{- define "meshgate.metadata" -}}
labels:
  {{- include "meshgate.labels" . | nindent 2 }}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "meshgate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "meshgate.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" -}}
{{- required "certificates.existingSecret.name is required in mode existingSecret" .Values.certificates.existingSecret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "meshgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "meshgate.exemptNamespaces" -}}
{{- if .Values.policy.exemptions.namespaces -}}
{{- toJson .Values.policy.exemptions.namespaces -}}
{{- else -}}
{{- toJson (list .Release.Namespace "kube-system") -}}
{{- end -}}
{{- end -}}

{{/* The policy file, with the exempt namespaces resolved. */}}
{{- define "meshgate.policy" -}}
{{- $exemptions := merge (dict "namespaces" (include "meshgate.exemptNamespaces" . | fromJsonArray)) .Values.policy.exemptions -}}
{{- $policy := merge (dict "exemptions" $exemptions) (omit .Values.policy "exemptions") -}}
{{- toYaml $policy -}}
{{- end -}}

{{- define "meshgate.namespaceSelector" -}}
{{- if .Values.webhook.namespaceSelector -}}
{{- toYaml .Values.webhook.namespaceSelector -}}
{{- else -}}
matchExpressions:
- key: kubernetes.io/metadata.name
  operator: NotIn
  values: {{ include "meshgate.exemptNamespaces" . }}
{{- end -}}
{{- end -}}

{{- define "meshgate.objectSelector" -}}
{{- if .Values.webhook.objectSelector -}}
{{- toYaml .Values.webhook.objectSelector -}}
{{- else -}}
matchExpressions:
- key: {{ .Values.policy.exemptions.optOutLabel }}
  operator: NotIn
  values: ["true"]
{{- end -}}
{{- end -}}

{{/* The webhook's clientConfig (caBundle added by the caller's mode). */}}
{{- define "meshgate.clientConfig" -}}
{{- if .Values.webhook.url -}}
url: {{ .Values.webhook.url }}
{{- else -}}
service:
  name: {{ include "meshgate.fullname" . }}
  namespace: {{ .Release.Namespace }}
  path: /validate
  port: 443
{{- end }}
{{- end -}}
