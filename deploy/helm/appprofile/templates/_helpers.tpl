{{/* Names ---------------------------------------------------------------------------------- */}}

{{- define "appprofile.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* RELEASE-appprofile, or RELEASE when it already contains the chart name; at most 63 chars. */}}
{{- define "appprofile.fullname" -}}
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

{{- define "appprofile.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "appprofile.selectorLabels" -}}
app.kubernetes.io/name: {{ include "appprofile.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "appprofile.labels" -}}
helm.sh/chart: {{ include "appprofile.chart" . }}
{{ include "appprofile.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: bot
{{- end }}

{{- define "appprofile.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "appprofile.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "appprofile.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The container port name and number the Service, the probes and the ServiceMonitor use. */}}
{{- define "appprofile.portName" -}}
{{- if eq .Values.mode "socket" }}health{{ else }}http{{ end }}
{{- end }}

{{- define "appprofile.containerPort" -}}
{{- if eq .Values.mode "socket" }}{{ .Values.socket.healthPort }}{{ else }}{{ .Values.http.port }}{{ end }}
{{- end }}

{{/* Does the pod need the ServiceAccount token? "true" or "false". */}}
{{- define "appprofile.automountToken" -}}
{{- if kindIs "bool" .Values.serviceAccount.automountToken }}
{{- .Values.serviceAccount.automountToken }}
{{- else }}
{{- $inCluster := false }}
{{- range $name, $cluster := (.Values.config.clusters | default dict) }}
{{- if and (kindIs "map" $cluster) $cluster.in_cluster }}{{ $inCluster = true }}{{ end }}
{{- end }}
{{- or .Values.rbac.inCluster.enabled .Values.rbac.impersonate.users .Values.rbac.impersonate.groups $inCluster | empty | not }}
{{- end }}
{{- end }}

{{/* Rendering refuses combinations that cannot work; each message says what to change. */}}
{{- define "appprofile.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) }}
{{- fail (printf "replicaCount is %d but database.existingSecret is empty: several replicas cannot share SQLite. Create a Secret with APPPROFILE_DATABASE_URL=postgresql://... and set database.existingSecret, or set replicaCount=1 (SQLite on an emptyDir, lost on restart)." (int .Values.replicaCount)) }}
{{- end }}
{{- if not .Values.slack.existingSecret }}
{{- fail "slack.existingSecret is empty: create a Secret with SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode) and name it here; the chart never takes tokens as values." }}
{{- end }}
{{- if and .Values.ingress.enabled (eq .Values.mode "socket") }}
{{- fail "ingress.enabled needs mode: http; in Socket Mode Slack is reached over an outbound WebSocket and nothing is exposed." }}
{{- end }}
{{- end }}
