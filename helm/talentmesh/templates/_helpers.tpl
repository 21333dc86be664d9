{{/*
Names, labels and the merged settings of one service. Every per-service template ranges over
`.Values.services` and asks "talentmesh.service" for the entry merged over serviceDefaults.
*/}}

{{/* The release's name prefix: <release>, or <release>-talentmesh when the release name lacks it. */}}
{{- define "talentmesh.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of one service's objects: <fullname>-<service>. Arguments: (list $ name). */}}
{{- define "talentmesh.name" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "talentmesh.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object of the release. */}}
{{- define "talentmesh.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: talentmesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one service's pods. Arguments: (list $ name). */}}
{{- define "talentmesh.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{/* All labels of one service's objects. Arguments: (list $ name). */}}
{{- define "talentmesh.labels" -}}
{{ include "talentmesh.commonLabels" (index . 0) }}
app.kubernetes.io/name: {{ index . 1 }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/*
One service's settings: its entry of `services:` merged over `serviceDefaults:` (the entry wins,
maps merge key by key, lists are replaced), as YAML; use with fromYaml. Arguments: (list $ name).
*/}}
{{- define "talentmesh.service" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $entry := index $root.Values.services $name | default dict -}}
{{- $svc := mergeOverwrite (deepCopy $root.Values.serviceDefaults) (deepCopy $entry) -}}
{{- $_ := set $svc "name" $name -}}
{{- if not (and $svc.port $svc.metricsPort) -}}
{{- fail (printf "services.%s: port and metricsPort are required (see services.tsv)" $name) -}}
{{- end -}}
{{- if not (has $svc.kind (list "grpc" "http")) -}}
{{- fail (printf "services.%s.kind: %q is not grpc or http" $name $svc.kind) -}}
{{- end -}}
{{- /* The processes of services.tsv serve one protocol each (its `kind` column, checked by
dev/chart.sh): the image's binary decides, so the probes must match it. */ -}}
{{- $binaryKind := dict "identity" "grpc" "company" "grpc" "job" "grpc" "resume" "grpc" "matching" "grpc" "sync" "grpc" "gateway" "http" -}}
{{- with index $binaryKind $name -}}
{{- if ne . $svc.kind -}}
{{- fail (printf "services.%s.kind: %q, but talentmesh-%s serves %s (only the gateway is http)" $name $svc.kind $name .) -}}
{{- end -}}
{{- end -}}
{{- if and $svc.autoscaling.enabled (gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) -}}
{{- fail (printf "services.%s.autoscaling: minReplicas %v is above maxReplicas %v" $name $svc.autoscaling.minReplicas $svc.autoscaling.maxReplicas) -}}
{{- end -}}
{{- toYaml $svc -}}
{{- end -}}

{{/* The names of the enabled services, sorted, as a JSON list; use with fromJsonArray. */}}
{{- define "talentmesh.enabledServices" -}}
{{- $names := list -}}
{{- range $name := keys .Values.services | sortAlpha -}}
{{- $svc := include "talentmesh.service" (list $ $name) | fromYaml -}}
{{- if $svc.enabled -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* The image of one service. Arguments: (list $ svc). */}}
{{- define "talentmesh.image" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $repository := $svc.image.repository | default (printf "%s/talentmesh/%s" $root.Values.image.registry $svc.name) -}}
{{- $tag := $svc.image.tag | default $root.Values.image.tag | default $root.Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/* The name of the Secret one service reads. Arguments: (list $ svc). */}}
{{- define "talentmesh.secretName" -}}
{{- $svc := index . 1 -}}
{{- $svc.existingSecret | default (include "talentmesh.name" (list (index . 0) $svc.name)) -}}
{{- end -}}

{{/* A credential for a URL's user-info part: percent-encoded (spaces too). */}}
{{- define "talentmesh.userinfo" -}}
{{- . | toString | urlquery | replace "+" "%20" -}}
{{- end -}}

{{/* "user:password@" or "user@" of one store for one service. Arguments: (list svc store). */}}
{{- define "talentmesh.storeUser" -}}
{{- $svc := index . 0 -}}
{{- $cred := index $svc.credentials (index . 1) | default dict -}}
{{- $user := $cred.user | default $svc.name -}}
{{- include "talentmesh.userinfo" $user -}}
{{- with $cred.password -}}:{{ include "talentmesh.userinfo" . }}{{- end -}}
@
{{- end -}}

{{/* "?params" or "". */}}
{{- define "talentmesh.query" -}}
{{- with . -}}?{{ . }}{{- end -}}
{{- end -}}

{{/* The value of one generated secret: kept from the live Secret on upgrades, made otherwise. Arguments: (list $ svc key kind). */}}
{{- define "talentmesh.generated" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $key := index . 2 -}}
{{- $kind := index . 3 -}}
{{- $live := lookup "v1" "Secret" $root.Release.Namespace (include "talentmesh.name" (list $root $svc.name)) -}}
{{- if and $live $live.data (hasKey $live.data $key) -}}
{{- index $live.data $key | b64dec -}}
{{- else if eq $kind "key32" -}}
{{- randBytes 32 -}}
{{- else if eq $kind "password" -}}
{{- /* The identity password policy wants a letter and a digit. */ -}}
{{- printf "%s7k" (randAlphaNum 22) -}}
{{- else -}}
{{- fail (printf "services.%s.generatedSecrets.%s: unknown kind %q (password or key32)" $svc.name $key $kind) -}}
{{- end -}}
{{- end -}}

{{/* The NetworkPolicy egress rule to one store, or nothing. Arguments: (list $ store). */}}
{{- define "talentmesh.storeEgress" -}}
{{- $root := index . 0 -}}
{{- $store := index $root.Values.stores (index . 1) -}}
- ports:
    - protocol: TCP
      port: {{ $store.port }}
  {{- with $store.networkPolicy.peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
The enabled services one service calls, sorted, as a JSON list (use with fromJsonArray): its
`calls`, where "*" stands for every enabled gRPC service but itself (the gateway and the sync
control plane reach whatever the mesh runs). Arguments: (list $ svc).
*/}}
{{- define "talentmesh.callees" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $callees := list -}}
{{- range $call := $svc.calls -}}
{{- if not (or (eq $call "*") (hasKey $root.Values.services $call)) -}}
{{- fail (printf "services.%s.calls: %q is not an entry of services" $svc.name $call) -}}
{{- end -}}
{{- end -}}
{{- range $other := include "talentmesh.enabledServices" $root | fromJsonArray -}}
{{- $o := include "talentmesh.service" (list $root $other) | fromYaml -}}
{{- if and (ne $other $svc.name) (eq $o.kind "grpc") (or (has "*" $svc.calls) (has $other $svc.calls)) -}}
{{- $callees = append $callees $other -}}
{{- end -}}
{{- end -}}
{{- toJson $callees -}}
{{- end -}}

{{/* Labels of the `helm test` pod, which the NetworkPolicies admit to every health endpoint. */}}
{{- define "talentmesh.testSelectorLabels" -}}
app.kubernetes.io/name: talentmesh-test
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The enabled services that call one service, sorted, as a JSON list. Arguments: (list $ name). */}}
{{- define "talentmesh.callers" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $callers := list -}}
{{- range $other := include "talentmesh.enabledServices" $root | fromJsonArray -}}
{{- $o := include "talentmesh.service" (list $root $other) | fromYaml -}}
{{- if has $name (include "talentmesh.callees" (list $root $o) | fromJsonArray) -}}
{{- $callers = append $callers $other -}}
{{- end -}}
{{- end -}}
{{- toJson $callers -}}
{{- end -}}

{{/* A listen address: host:port, [host]:port for an IPv6 host. Arguments: (list host port). */}}
{{- define "talentmesh.listen" -}}
{{- $host := index . 0 | toString -}}
{{- if contains ":" $host -}}
{{- printf "[%s]:%v" $host (index . 1) -}}
{{- else -}}
{{- printf "%s:%v" $host (index . 1) -}}
{{- end -}}
{{- end -}}

{{/*
Checks across services, made once per render (templates/validate.yaml): every service an enabled
one names in `calls` is enabled too (else the caller starts and fails on each call). The error
names the callers.
*/}}
{{- define "talentmesh.validate" -}}
{{- $enabled := include "talentmesh.enabledServices" . | fromJsonArray -}}
{{- $callersOf := dict -}}
{{- range $name := $enabled -}}
{{- $svc := include "talentmesh.service" (list $ $name) | fromYaml -}}
{{- range $call := $svc.calls -}}
{{- if and (ne $call "*") (hasKey $.Values.services $call) (not (has $call $enabled)) -}}
{{- $_ := set $callersOf $call (append (get $callersOf $call | default list) $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $callee := keys $callersOf | sortAlpha -}}
{{- fail (printf "services.%s is disabled, but %s call it (services.<name>.calls): enable it, or disable or change them too" $callee (join ", " (index $callersOf $callee))) -}}
{{- end -}}
{{- end -}}
