{{/*
Names, labels, the TOML writer and the values every template derives from
(ports, paths, the termination budget), so that the gateway's configuration
and the pod specification cannot disagree.
*/}}

{{- define "sso-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sso-gateway.fullname" -}}
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

{{- define "sso-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object but the component. */}}
{{- define "sso-gateway.baseLabels" -}}
helm.sh/chart: {{ include "sso-gateway.chart" . }}
app.kubernetes.io/name: {{ include "sso-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sso-gateway
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the gateway's objects. */}}
{{- define "sso-gateway.labels" -}}
{{ include "sso-gateway.baseLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{/* The gateway pods (the AAF import pods carry another component). */}}
{{- define "sso-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sso-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "sso-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sso-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sso-gateway.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret holding the keys: the operator's own, or the chart's. */}}
{{- define "sso-gateway.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-keys" (include "sso-gateway.fullname" .) }}
{{- end }}
{{- end }}

{{/* Where the configuration folder (gateway.toml, services/, metadata/, keys/) is mounted. */}}
{{- define "sso-gateway.configDir" -}}/etc/sso-gateway{{- end }}

{{/*
Seconds between SIGTERM and SIGKILL: the preStop pause (the endpoints
controller and the ingress stop sending new requests), then the gateway's own
drain (shutdown_grace_seconds in gateway.toml, from the same value), then a
margin for the process to exit.
*/}}
{{- define "sso-gateway.terminationGracePeriodSeconds" -}}
{{- $d := .Values.drain }}
{{- add (int $d.preStopSleepSeconds) (int $d.shutdownGraceSeconds) (int $d.exitMarginSeconds) }}
{{- end }}

{{/*
One TOML value (string, boolean, number, or list of those). Helm reads every
number of the values as a float: whole numbers are written back as integers,
as the gateway's configuration expects.
*/}}
{{- define "sso-gateway.tomlValue" -}}
{{- $v := . }}
{{- if kindIs "string" $v }}{{ toJson $v }}
{{- else if kindIs "bool" $v }}{{ ternary "true" "false" $v }}
{{- else if or (kindIs "float64" $v) (kindIs "int" $v) (kindIs "int64" $v) }}
{{- if eq (float64 $v) (floor $v) }}{{ int64 $v }}{{ else }}{{ $v }}{{ end }}
{{- else if kindIs "slice" $v }}[{{ range $i, $e := $v }}{{ if $i }}, {{ end }}{{ include "sso-gateway.tomlValue" $e }}{{ end }}]
{{- else }}{{ fail (printf "gateway.toml: a value must be a string, a number, a boolean or a list of those, not %s" (kindOf $v)) }}
{{- end }}
{{- end }}

{{/* The checksum that rolls the pods when the configuration or the keys change. */}}
{{- define "sso-gateway.configChecksum" -}}
{{- $parts := list (include (print $.Template.BasePath "/configmap.yaml") .) }}
{{- if not .Values.secrets.existingSecret }}
{{- $parts = append $parts (include (print $.Template.BasePath "/secret.yaml") .) }}
{{- end }}
{{- if .Values.registry.rollOnChange }}
{{- $parts = append $parts (include (print $.Template.BasePath "/services-configmap.yaml") .) }}
{{- end }}
{{- join "\n---\n" $parts | sha256sum }}
{{- end }}

{{/*
The projected configuration volume: gateway.toml and the IdP metadata from the
ConfigMap, the services folder from its ConfigMap, the keys from the Secret,
each key listed so that a missing one stops the pod with a clear event instead
of a gateway that starts without it. One volume, so that nothing is mounted
inside a read-only ConfigMap mount.
*/}}
{{- define "sso-gateway.configVolume" -}}
- name: config
  projected:
    defaultMode: 0440
    sources:
      - configMap:
          name: {{ include "sso-gateway.fullname" . }}-config
          items:
            - key: gateway.toml
              path: gateway.toml
            {{- range $name, $_ := .Values.metadata.files }}
            - key: {{ printf "metadata.%s" $name | quote }}
              path: {{ printf "metadata/%s" $name | quote }}
            {{- end }}
      - configMap:
          name: {{ include "sso-gateway.fullname" . }}-services
          items:
            - key: README.txt
              path: services/README.txt
            {{- range $name, $_ := .Values.registry.files }}
            - key: {{ $name | quote }}
              path: {{ printf "services/%s" $name | quote }}
            {{- end }}
      - secret:
          name: {{ include "sso-gateway.secretName" . }}
          items:
            {{- range (include "sso-gateway.secretFileKeys" . | fromJsonArray) }}
            - key: {{ . | quote }}
              path: {{ printf "keys/%s" . | quote }}
            {{- end }}
{{- end }}

{{/* The Secret keys mounted as files under keys/, as a JSON list. */}}
{{- define "sso-gateway.secretFileKeys" -}}
{{- $keys := list "signing.key" "signing.crt" "identifier.secret" }}
{{- if .Values.keys.encryption }}
{{- $keys = concat $keys (list "encryption.key" "encryption.crt") }}
{{- end }}
{{- range .Values.keys.previousIdentifierSecrets }}
{{- $keys = append $keys (printf "identifier-%s.secret" .) }}
{{- end }}
{{- range .Values.keys.oidcProviderKeys }}
{{- $keys = append $keys (printf "oidc-%s.key" .) }}
{{- end }}
{{- if .Values.keys.adminToken }}
{{- $keys = append $keys "admin.token" }}
{{- end }}
{{- range .Values.keys.oidcClients }}
{{- $keys = append $keys (printf "oidc-client-%s.secret" .) }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{/*
Environment of every gateway container: the Redis credentials (optional keys
of the Secret: absent keys set nothing).
*/}}
{{- define "sso-gateway.env" -}}
- name: SSO_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "sso-gateway.secretName" . }}
      key: redis-url
      optional: true
- name: SSO_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "sso-gateway.secretName" . }}
      key: redis-password
      optional: true
- name: SSO_REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "sso-gateway.secretName" . }}
      key: redis-sentinel-password
      optional: true
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The container security context of the gateway and of the import job. */}}
{{- define "sso-gateway.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}
