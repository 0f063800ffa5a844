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

{{/*
An image reference with global.imageRegistry in place of its registry; pass (dict "ref" REF "registry" R).
The registry is the first path element when it holds a dot or a colon or is localhost; a reference without
one is Docker Hub's (busybox -> library/busybox).
*/}}
{{- define "mithril.rewriteRegistry" -}}
{{- $ref := .ref }}
{{- if .registry }}
{{- $parts := splitList "/" $ref }}
{{- $first := first $parts }}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- $ref = join "/" (rest $parts) }}
{{- else if eq (len $parts) 1 }}
{{- $ref = printf "library/%s" $ref }}
{{- end }}
{{- $ref = printf "%s/%s" (trimSuffix "/" .registry) $ref }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given; pass (dict "image" .Values.X.image "ctx" $). */}}
{{- define "mithril.imageOf" -}}
{{- $ref := printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- if .image.digest }}
{{- $ref = printf "%s@%s" .image.repository .image.digest }}
{{- end }}
{{- include "mithril.rewriteRegistry" (dict "ref" $ref "registry" .ctx.Values.global.imageRegistry) }}
{{- end }}

{{- define "mithril.operator.image" -}}{{ include "mithril.imageOf" (dict "image" .Values.operator.image "ctx" .) }}{{- end }}
{{- define "mithril.agent.image" -}}{{ include "mithril.imageOf" (dict "image" .Values.agent.image "ctx" .) }}{{- end }}
{{/* The injected wait step's image: waitImage, else the operator image (it has sh, sleep and ln and a non-root user). */}}
{{- define "mithril.wait.image" -}}
{{- if .Values.waitImage }}
{{- include "mithril.rewriteRegistry" (dict "ref" .Values.waitImage "registry" .Values.global.imageRegistry) }}
{{- else }}
{{- include "mithril.operator.image" . }}
{{- end }}
{{- end }}

{{/* imagePullSecrets of a workload: the global ones and its image's own; pass (dict "image" .Values.X.image "ctx" $). */}}
{{- define "mithril.pullSecrets" -}}
{{- $all := concat (.ctx.Values.imagePullSecrets | default list) (.image.pullSecrets | default list) }}
{{- with $all }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Whether the agent mounts kubelet's pod folder: EmptyDir mode, or HostPath mode with the Pod Security fallback EmptyDir. */}}
{{- define "mithril.agent.kubeletPods" -}}
{{- if or (eq .Values.webhook.volumeMode "EmptyDir") (eq .Values.webhook.podSecurity.fallback "EmptyDir") }}true{{ end }}
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

{{/* Extra pod labels with their values as strings; pass the map. */}}
{{- define "mithril.podLabels" -}}
{{- range $k, $v := . }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end }}

{{/* The agent pods' label selector as the operator's --agent-selector wants it (key=value,...). */}}
{{- define "mithril.agent.selector" -}}
app.kubernetes.io/name={{ include "mithril.name" . }},app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/component=node-agent
{{- end }}

{{/* Where agent pods run (the agent and the uninstall cleanup): nodeSelector, tolerations, affinity. */}}
{{- define "mithril.agent.placement" -}}
{{- with .Values.agent.nodeSelector }}
nodeSelector:
  {{- range $k, $v := . }}
  {{ $k }}: {{ $v | toString | quote }}
  {{- end }}
{{- end }}
{{- if or .Values.agent.tolerations .Values.agent.tolerateAllTaints }}
tolerations:
  {{- if .Values.agent.tolerateAllTaints }}
  - operator: Exists
  {{- else }}
  {{- toYaml .Values.agent.tolerations | nindent 2 }}
  {{- end }}
{{- end }}
{{- if .Values.agent.affinity }}
affinity:
  {{- toYaml .Values.agent.affinity | nindent 2 }}
{{- else if .Values.agent.gpuNodeLabels }}
# GPU nodes by any of these labels (GPU feature discovery's or Node Feature Discovery's): terms are ORed.
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        {{- range .Values.agent.gpuNodeLabels }}
        - matchExpressions:
            - key: {{ . }}
              operator: In
              values: ["true"]
        {{- end }}
{{- end }}
{{- end }}
