{{/*
Names and labels of every resource, computed here only.
*/}}

{{- define "mithril.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Base name of the release's resources: fullnameOverride, else RELEASE-mithril (RELEASE when it already holds the name). */}}
{{- define "mithril.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mithril.operator.name" -}}{{ include "mithril.fullname" . }}-operator{{- end }}
{{- define "mithril.agent.name" -}}{{ include "mithril.fullname" . }}-node-agent{{- end }}
{{/* The webhook's Service; its DNS names are in the serving certificate. */}}
{{- define "mithril.webhook.service" -}}{{ include "mithril.fullname" . }}-webhook{{- end }}
{{- define "mithril.webhook.configName" -}}{{ default (include "mithril.fullname" .) .Values.webhook.configurationName }}{{- end }}
{{/* Fixed in the operator (CertificateManager.Config.defaults): the Secret of its own CA in built-in mode. */}}
{{- define "mithril.webhook.builtinSecret" -}}mithril-webhook-tls{{- end }}
{{/* cert-manager mode: the serving Certificate and the Secret it writes. */}}
{{- define "mithril.webhook.certificate" -}}{{ include "mithril.fullname" . }}-webhook{{- end }}
{{- define "mithril.webhook.certSecret" -}}{{ include "mithril.fullname" . }}-webhook-cert{{- end }}
{{/* Fixed in the operator (OperatorMain): the leader election Lease. */}}
{{- define "mithril.operator.lease" -}}mithril-operator{{- end }}

{{- define "mithril.operator.image" -}}
{{ .Values.operator.image.repository }}:{{ default .Chart.AppVersion .Values.operator.image.tag }}
{{- end }}
{{- define "mithril.agent.image" -}}
{{ .Values.agent.image.repository }}:{{ default .Chart.AppVersion .Values.agent.image.tag }}
{{- end }}

{{/* The pods' view folder on the node: the agent's --volumes and the webhook's --host-path. */}}
{{- define "mithril.agent.volumes" -}}{{ trimSuffix "/" .Values.agent.hostPath }}/volumes{{- end }}
{{- define "mithril.agent.root" -}}{{ trimSuffix "/" .Values.agent.hostPath }}/store{{- end }}

{{- define "mithril.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mithril
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Selector labels of one component; pass (dict "ctx" $ "component" "operator"). */}}
{{- define "mithril.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mithril.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The agent pods' label selector as the operator's --agent-selector wants it (key=value,...). */}}
{{- define "mithril.agent.selector" -}}
app.kubernetes.io/name={{ include "mithril.name" . }},app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/component=node-agent
{{- end }}
