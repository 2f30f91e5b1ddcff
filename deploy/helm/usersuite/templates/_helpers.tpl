{{/* Names, labels, the image, security contexts and the config every template shares. */}}

{{- define "usersuite.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "usersuite.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "usersuite.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "usersuite.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels that select one component's pods; call with (list $ "api"). */}}
{{- define "usersuite.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "usersuite.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "usersuite.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
{{ include "usersuite.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: usersuite
{{- end }}

{{- define "usersuite.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "usersuite.secretName" -}}
{{- default (include "usersuite.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "usersuite.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "usersuite.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image's user (deploy/docker/Dockerfile): fixed, non-root, above the host's range. */}}
{{- define "usersuite.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "usersuite.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Where the pods find their files. */}}
{{- define "usersuite.configDir" -}}/etc/usersuite{{- end }}
{{- define "usersuite.tlsDir" -}}/etc/usersuite/tls{{- end }}
{{- define "usersuite.authDir" -}}/etc/usersuite/auth{{- end }}

{{/* config.toml: the server's Settings (see `usersuite config show`); secrets come from env. */}}
{{- define "usersuite.settings" -}}
{{- $auth := dict "enabled" .Values.auth.enabled "issuer" .Values.auth.issuer "audience" .Values.auth.audience "reflection" .Values.auth.reflection }}
{{- if .Values.auth.jwksUrl }}
{{- $_ := set $auth "jwks_url" .Values.auth.jwksUrl }}
{{- end }}
{{- if .Values.auth.jwksFromSecret }}
{{- $_ := set $auth "jwks_file" (printf "%s/jwks.json" (include "usersuite.authDir" .)) }}
{{- end }}
{{- if .Values.tls.mtlsScopes }}
{{- $_ := set $auth "mtls_scopes" .Values.tls.mtlsScopes }}
{{- end }}
{{- $settings := dict
  "mode" "production"
  "log_level" .Values.logLevel
  "listen" (printf "0.0.0.0:%d" (int .Values.ports.grpc))
  "metrics_listen" (printf "0.0.0.0:%d" (int .Values.ports.metrics))
  "shutdown_grace_seconds" (int .Values.api.shutdownGraceSeconds)
  "database" (dict "pool_size" (int .Values.api.dbPoolSize) "max_overflow" (int .Values.api.dbMaxOverflow))
  "nats_url" .Values.natsUrl
  "auth" $auth }}
{{- if .Values.tls.enabled }}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" (include "usersuite.tlsDir" .)) "key_file" (printf "%s/tls.key" (include "usersuite.tlsDir" .)) }}
{{- if .Values.tls.mutual }}
{{- $_ := set $tls "client_ca_file" (printf "%s/ca.crt" (include "usersuite.tlsDir" .)) }}
{{- end }}
{{- $_ := set $settings "tls" $tls }}
{{- else }}
{{- /* A mesh or gateway terminates TLS in front of the pods (values.yaml, tls.enabled). */}}
{{- $_ := set $settings "tls" (dict "allow_plaintext" true) }}
{{- end }}
{{- mustMergeOverwrite $settings (deepCopy .Values.extraSettings) | toToml }}
{{- end }}

{{/* The services of the suite, in a fixed order; each owns its database. */}}
{{- define "usersuite.serviceNames" -}}users orders billing{{- end }}

{{/* One service's names and database, as YAML; call with (list $ NAME) and read it with
     fromYaml. users keeps the names of the chart's single-service days (component `api`,
     Service `FULLNAME`, Secret key `database-url`): a Deployment's selector cannot change, so
     renaming would break `helm upgrade`. */}}
{{- define "usersuite.service" -}}
{{- $ := index . 0 -}}
{{- $name := index . 1 -}}
{{- $values := index $.Values.services $name -}}
{{- $full := include "usersuite.fullname" $ -}}
{{- $users := eq $name "users" -}}
name: {{ $name }}
enabled: {{ $values.enabled }}
component: {{ ternary "api" $name $users }}
deployment: {{ $full }}-{{ ternary "api" $name $users }}
serviceName: {{ ternary $full (printf "%s-%s" $full $name) $users }}
headlessName: {{ ternary $full (printf "%s-%s" $full $name) $users }}-headless
bridgeComponent: {{ ternary "bridge" (printf "%s-bridge" $name) $users }}
migrationsComponent: {{ ternary "migrations" (printf "%s-migrations" $name) $users }}
secretKey: {{ ternary "database-url" (printf "%s-database-url" $name) $users }}
grpcService: {{ get (dict "users" "user.v1.UserService" "orders" "order.v1.OrderService" "billing" "billing.v1.BillingService") $name }}
databaseUrl: {{ ternary (default $.Values.secrets.databaseUrl $values.databaseUrl) $values.databaseUrl $users | quote }}
replicas: {{ default $.Values.api.replicaCount $values.replicaCount }}
{{- end }}

{{/* The enabled services, each as the dict of usersuite.service. */}}
{{- define "usersuite.enabledServices" -}}
{{- $found := list -}}
{{- range splitList " " (include "usersuite.serviceNames" .) -}}
{{- $service := fromYaml (include "usersuite.service" (list $ .)) -}}
{{- if $service.enabled -}}
{{- $found = append $found $service -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "services" $found) -}}
{{- end }}

{{/* Secrets that are strings reach the server as USERSUITE_* variables (it reads no other
     source for them); file-shaped secrets (JWKS, TLS) are mounted. Call with (list $ SERVICE). */}}
{{- define "usersuite.secretEnv" -}}
{{- $service := index . 1 -}}
{{- with index . 0 -}}
{{ include "usersuite.databaseUrlEnv" (list (include "usersuite.secretName" .) $service.secretKey) }}
- name: USERSUITE_PAGE_TOKEN_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "usersuite.secretName" . }}
      key: page-token-secret
- name: USERSUITE_AUTH__HS256_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "usersuite.secretName" . }}
      key: auth-hs256-secret
      optional: true
- name: USERSUITE_AUTH__SIGNING_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "usersuite.secretName" . }}
      key: auth-signing-keys
      optional: true
{{- end }}
{{- end }}

{{/* The one secret the bridge and the migrations need; call with (list SECRET KEY). */}}
{{- define "usersuite.databaseUrlEnv" -}}
- name: USERSUITE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ index . 0 }}
      key: {{ index . 1 }}
{{- end }}

{{/* The config file, the writable /tmp and the mounted secret files of a usersuite container. */}}
{{- define "usersuite.volumeMounts" -}}
- name: config
  mountPath: {{ include "usersuite.configDir" . }}/config.toml
  subPath: config.toml
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .Values.auth.jwksFromSecret }}
- name: jwks
  mountPath: {{ include "usersuite.authDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: {{ include "usersuite.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "usersuite.volumes" -}}
- name: config
  configMap:
    name: {{ include "usersuite.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.auth.jwksFromSecret }}
- name: jwks
  secret:
    secretName: {{ include "usersuite.secretName" . }}
    items:
      - key: jwks.json
        path: jwks.json
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ required "tls.secretName is required when tls.enabled" .Values.tls.secretName }}
{{- end }}
{{- end }}

{{/* Rolls the pods when their configuration or the chart-made Secret changes. */}}
{{- define "usersuite.checksums" -}}
checksum/config: {{ include "usersuite.settings" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{/* API worker processes: api.workers, or the whole cores of the CPU limit (at least 1). */}}
{{- define "usersuite.apiWorkers" -}}
{{- if .Values.api.workers -}}
{{- .Values.api.workers -}}
{{- else -}}
{{- $cpu := toString (dig "limits" "cpu" "1" .Values.api.resources) -}}
{{- $cores := 1 -}}
{{- if hasSuffix "m" $cpu -}}
{{- $cores = div (atoi (trimSuffix "m" $cpu)) 1000 -}}
{{- else -}}
{{- $cores = floor (float64 $cpu) | int -}}
{{- end -}}
{{- max 1 $cores -}}
{{- end -}}
{{- end }}

{{/* How the kubelet checks the API; call with (list . PATH). Its native gRPC probe speaks
     plaintext only and fails against TLS or mutual TLS, so with tls.enabled the probe asks the
     ops HTTP port (--metrics-listen, plaintext), whose /readyz and /healthz follow the server's
     health. Without TLS the native probe stays: it checks the gRPC port itself (README, Probes). */}}
{{- define "usersuite.apiProbe" -}}
{{- $ := index . 0 -}}
{{- if $.Values.tls.enabled -}}
httpGet:
  path: {{ index . 1 }}
  port: metrics
{{- else -}}
grpc:
  port: {{ $.Values.ports.grpc }}
{{- end -}}
{{- end }}

{{/* Envoy's configuration: `usersuite gateway config`'s output (files/gateway, generated by
     deploy/gateway/generate.py) with each service's placeholder host replaced by its headless
     Service (Envoy resolves every ready pod and balances per call, health-checking each) and
     the placeholder port by the services' gRPC port. A disabled service's cluster names a
     Service that does not exist, so its calls get UNAVAILABLE. */}}
{{- define "usersuite.gatewayConfig" -}}
{{- $config := .Files.Get "files/gateway/envoy.yaml" -}}
{{- range splitList " " (include "usersuite.serviceNames" .) -}}
{{- $service := fromYaml (include "usersuite.service" (list $ .)) -}}
{{- $host := printf "%s.%s.svc" $service.headlessName $.Release.Namespace -}}
{{- $config = replace (printf "address: %s.upstream.invalid" .) (printf "address: %s" $host) $config -}}
{{- end -}}
{{- replace "port_value: 50051" (printf "port_value: %d" (int .Values.ports.grpc)) $config -}}
{{- end }}

{{/* The gateway's ports (fixed in the generated configuration, deploy/gateway/generate.py). */}}
{{- define "usersuite.gatewayHttpPort" -}}8080{{- end }}
{{- define "usersuite.gatewayAdminPort" -}}9901{{- end }}

{{- define "usersuite.gatewayImage" -}}
{{- $image := .Values.gateway.image }}
{{- if $image.digest }}
{{- printf "%s:%s@%s" $image.repository $image.tag $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository $image.tag }}
{{- end }}
{{- end }}
