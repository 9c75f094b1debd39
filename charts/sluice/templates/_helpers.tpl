{{/* Names, labels and the controller's command line, shared by every template. */}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sluice.fullname" -}}
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

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sluice
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sluice.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Every controller flag from values; an empty string leaves the flag to the controller's default. */}}
{{- define "sluice.controllerArgs" -}}
{{- $c := .Values.controller -}}
{{- $n := .Values.notifications -}}
{{- $le := .Values.leaderElection -}}
- controller
{{- if $c.namespace }}
- --namespace={{ $c.namespace }}
{{- end }}
{{- if $c.meshProvider }}
- --mesh-provider={{ $c.meshProvider }}
{{- end }}
{{- if $c.metricsServer }}
- --metrics-server={{ $c.metricsServer }}
{{- end }}
{{- if $c.selectorLabels }}
- --selector-labels={{ $c.selectorLabels }}
{{- end }}
{{- if $c.includeLabelPrefix }}
- --include-label-prefix={{ $c.includeLabelPrefix }}
{{- end }}
{{- if $c.enableConfigTracking }}
- --enable-config-tracking
{{- else }}
- --disable-config-tracking
{{- end }}
- --control-loop-interval={{ $c.controlLoopInterval }}
- --threadiness={{ $c.threadiness }}
{{- if $c.clusterName }}
- --cluster-name={{ $c.clusterName }}
{{- end }}
{{- with $n.slack.url }}
- --slack-url={{ . }}
{{- end }}
{{- with $n.slack.token }}
- --slack-token={{ . }}
{{- end }}
{{- with $n.slack.channel }}
- --slack-channel={{ . }}
{{- end }}
{{- with $n.slack.user }}
- --slack-user={{ . }}
{{- end }}
{{- with $n.slack.proxyUrl }}
- --slack-proxy-url={{ . }}
{{- end }}
{{- with $n.msteamsUrl }}
- --msteams-url={{ . }}
{{- end }}
- --log-level={{ $c.logLevel }}
- --log-format={{ $c.logFormat }}
- --host=0.0.0.0
- --port={{ $c.port }}
{{- if $le.enabled }}
- --leader-elect
- --leader-elect-namespace={{ .Release.Namespace }}
- --leader-elect-lease-name={{ $le.leaseName }}
- --leader-elect-lease-duration={{ $le.leaseDuration }}
- --leader-elect-renew-deadline={{ $le.renewDeadline }}
- --leader-elect-retry-period={{ $le.retryPeriod }}
{{- end }}
{{- range $c.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
