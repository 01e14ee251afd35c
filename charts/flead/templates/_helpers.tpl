{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "flead.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart unless the release name already contains the chart name. */}}
{{- define "flead.fullname" -}}
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

{{/* Standard labels on every object; pass (dict "ctx" $ "component" "operator"). */}}
{{- define "flead.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{ include "flead.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: flead
{{- end }}

{{/* Selector labels; pass (dict "ctx" $ "component" "operator"). */}}
{{- define "flead.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flead.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Name of the operator's ServiceAccount. */}}
{{- define "flead.operatorServiceAccount" -}}
{{- printf "%s-operator" (include "flead.fullname" .) }}
{{- end }}

{{/* Image reference of a FLEAD component: [<registry>/]<repository>(:<tag>|@sha256:...), each empty
     field taken from the top-level image.* defaults; pass (dict "ctx" $ "image" .Values.operator.image). */}}
{{- define "flead.image" -}}
{{- $defaults := .ctx.Values.image -}}
{{- $registry := .image.registry | default $defaults.registry | trimSuffix "/" -}}
{{- $repository := .image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" $registry $repository -}}
{{- end -}}
{{- $tag := .image.tag | default $defaults.tag | default .ctx.Chart.AppVersion | toString -}}
{{- if hasPrefix "sha256:" $tag -}}
{{- printf "%s@%s" $repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end }}

{{/* Pull policy of a FLEAD component: its own, else image.pullPolicy; same argument as flead.image. */}}
{{- define "flead.imagePullPolicy" -}}
{{- .image.pullPolicy | default .ctx.Values.image.pullPolicy -}}
{{- end }}

{{/* Pod-level securityContext shared by FLEAD's own pods. */}}
{{- define "flead.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Container-level securityContext shared by every container of the chart. */}}
{{- define "flead.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* Name of the ConfigMap the trainers take their environment from (the operator passes it on). */}}
{{- define "flead.trainerConfigMap" -}}
{{- printf "%s-trainer" (include "flead.fullname" .) }}
{{- end }}

{{/* Name of the Secret with FLEAD_AGGREGATOR_TOKEN and FLEAD_MONGODB_URI (aggregator and trainers). */}}
{{- define "flead.credentialsSecret" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else }}
{{- printf "%s-credentials" (include "flead.fullname" .) }}
{{- end }}
{{- end }}

{{/* Aggregator token: the value given, else the one already stored in the release's Secret, else a new random one. */}}
{{- define "flead.aggregatorToken" -}}
{{- if .Values.credentials.aggregatorToken }}
{{- .Values.credentials.aggregatorToken }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "flead.credentialsSecret" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "FLEAD_AGGREGATOR_TOKEN") }}
{{- index $existing.data "FLEAD_AGGREGATOR_TOKEN" | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Kafka bootstrap servers: the dev StatefulSet's Service, or externalKafka.bootstrapServers. */}}
{{- define "flead.kafkaBootstrapServers" -}}
{{- if .Values.kafka.enabled }}
{{- printf "%s-kafka.%s.svc:%d" (include "flead.fullname" .) .Release.Namespace (int .Values.kafka.port) }}
{{- else }}
{{- required "externalKafka.bootstrapServers is required when kafka.enabled=false" .Values.externalKafka.bootstrapServers }}
{{- end }}
{{- end }}

{{/* MongoDB URI: the dev StatefulSet's Service, or externalMongodb.uri. */}}
{{- define "flead.mongodbUri" -}}
{{- if .Values.mongodb.enabled }}
{{- printf "mongodb://%s-mongodb.%s.svc:%d/%s" (include "flead.fullname" .) .Release.Namespace (int .Values.mongodb.port) .Values.config.mongodbDatabase }}
{{- else }}
{{- required "externalMongodb.uri (or credentials.existingSecret) is required when mongodb.enabled=false" .Values.externalMongodb.uri }}
{{- end }}
{{- end }}

{{/* In-cluster URL of the aggregator (trainers may run in other namespaces, hence the FQDN). */}}
{{- define "flead.aggregatorUrl" -}}
{{- printf "http://%s-aggregator.%s.svc:%d" (include "flead.fullname" .) .Release.Namespace (int .Values.aggregator.service.port) }}
{{- end }}

{{/* Stable KRaft cluster id (22 base64url characters = 16 bytes) derived from the release. */}}
{{- define "flead.kafkaClusterId" -}}
{{- if .Values.kafka.clusterId }}
{{- .Values.kafka.clusterId }}
{{- else }}
{{- printf "%s/%s" .Release.Namespace (include "flead.fullname" .) | sha256sum | trunc 16 | b64enc | trimSuffix "==" | replace "+" "-" | replace "/" "_" }}
{{- end }}
{{- end }}

{{/* Pod scheduling knobs of a component; pass the component's values. */}}
{{- define "flead.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* imagePullSecrets block. */}}
{{- define "flead.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Namespace of monitoring objects: the configured one or the release's. */}}
{{- define "flead.monitoringNamespace" -}}
{{- .Values.monitoring.namespace | default .Release.Namespace }}
{{- end }}

{{/* A ServiceMonitor for one component; pass (dict "ctx" $ "component" "aggregator" "port" "http").
     The job label is set to flead-<component>, the name the dashboards and alerts use. */}}
{{- define "flead.serviceMonitor" -}}
{{- $m := .ctx.Values.monitoring.serviceMonitor -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "flead.fullname" .ctx }}-{{ .component }}
  namespace: {{ include "flead.monitoringNamespace" .ctx }}
  labels:
    {{- include "flead.labels" . | nindent 4 }}
    {{- with $m.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  namespaceSelector:
    matchNames:
      - {{ .ctx.Release.Namespace }}
  selector:
    matchLabels:
      {{- include "flead.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ .port }}
      path: /metrics
      interval: {{ $m.interval }}
      scrapeTimeout: {{ $m.scrapeTimeout }}
      relabelings:
        - action: replace
          targetLabel: job
          replacement: flead-{{ .component }}
{{- end }}
