"""Checks the talentmesh chart's rendered manifests; run by dev/chart.sh check.

1. Every document validates against the Kubernetes JSON schemas of one pinned version, strictly
   (no unknown fields), with PyPI kubernetes-validate, which ships the schemas.
2. Custom resources have no schema there (prometheus-operator's ServiceMonitor and
   PrometheusRule, consul-k8s's ServiceIntentions): their shape is checked against the small
   schemas below (the fields this chart uses, no others); every rule has one of record/alert and
   a non-empty expr.
3. Grafana dashboard ConfigMaps hold valid JSON.
4. services.tsv (the mesh's one list of processes) and values.yaml agree (--values): every
   process there is an entry of `services:` with the same kind, port and metrics port, and no
   entry is left over.
5. The default rendering has a Deployment, Service, NetworkPolicy and PodDisruptionBudget for
   each process, and every container runs as non-root with a read-only root, no privilege
   escalation, no capabilities, and liveness and readiness probes.

Usage: check-manifests.py --services services.tsv --values values.yaml   (values against the list)
       check-manifests.py --kube-version 1.31.0 --services services.tsv DEFAULT.yaml [OTHER.yaml...]
       (renderings; the first is the default values')
"""

import argparse
import json
import os
import sys

import jsonschema
import kubernetes_validate
import yaml

# What is not in the Kubernetes schemas: the custom resources (prometheus-operator's
# monitoring.coreos.com/v1, consul-k8s's consul.hashicorp.com/v1alpha1), the parts this chart
# renders. additionalProperties false catches a misspelt field.
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    "additionalProperties": False,
}
DURATION = {"type": "string", "pattern": "^(([0-9]+)(y|w|d|h|m|s|ms))+$"}
RELABEL = {
    "type": "object",
    "properties": {
        "action": {
            "enum": [
                "replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep",
                "lowercase", "uppercase", "keepequal", "dropequal",
            ]
        },
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
    },
    "additionalProperties": False,
}
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "ServiceMonitor"},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "required": ["endpoints", "selector"],
                "properties": {
                    "jobLabel": {"type": "string"},
                    "targetLabels": {"type": "array", "items": {"type": "string"}},
                    "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                    "namespaceSelector": {
                        "type": "object",
                        "properties": {
                            "any": {"type": "boolean"},
                            "matchNames": {"type": "array", "items": {"type": "string"}},
                        },
                        "additionalProperties": False,
                    },
                    "selector": {
                        "type": "object",
                        "properties": {"matchLabels": STRING_MAP},
                        "additionalProperties": False,
                    },
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["port"],
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "scheme": {"enum": ["http", "https"]},
                                "interval": DURATION,
                                "scrapeTimeout": DURATION,
                                "honorLabels": {"type": "boolean"},
                                "relabelings": {"type": "array", "items": RELABEL},
                                "metricRelabelings": {"type": "array", "items": RELABEL},
                            },
                            "additionalProperties": False,
                        },
                    },
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
    ("consul.hashicorp.com/v1alpha1", "ServiceIntentions"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "consul.hashicorp.com/v1alpha1"},
            "kind": {"const": "ServiceIntentions"},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "required": ["destination", "sources"],
                "properties": {
                    "destination": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string", "minLength": 1}},
                        "additionalProperties": False,
                    },
                    "sources": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name", "action"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "action": {"enum": ["allow", "deny"]},
                                "description": {"type": "string"},
                            },
                            "additionalProperties": False,
                        },
                    },
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
    ("monitoring.coreos.com/v1", "PrometheusRule"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PrometheusRule"},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "required": ["groups"],
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "rules"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "interval": DURATION,
                                "limit": {"type": "integer"},
                                "labels": STRING_MAP,
                                "query_offset": DURATION,
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["expr"],
                                        "oneOf": [
                                            {"required": ["record"]},
                                            {"required": ["alert"]},
                                        ],
                                        "properties": {
                                            "record": {"type": "string", "minLength": 1},
                                            "alert": {"type": "string", "minLength": 1},
                                            "expr": {
                                                "type": ["string", "integer"],
                                                "minLength": 1,
                                            },
                                            "for": DURATION,
                                            "keep_firing_for": DURATION,
                                            "labels": STRING_MAP,
                                            "annotations": STRING_MAP,
                                        },
                                        "additionalProperties": False,
                                    },
                                },
                            },
                            "additionalProperties": False,
                        },
                    }
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
}


def documents(path):
    """The non-empty YAML documents of one rendering."""
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def name_of(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def check_schemas(path, docs, kube_version):
    """Problems of one rendering against the Kubernetes and CRD schemas; prints a summary."""
    problems = []
    counts = {"kubernetes": 0, "crd": 0}
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CRD_SCHEMAS:
            validator = jsonschema.Draft202012Validator(CRD_SCHEMAS[key])
            for error in validator.iter_errors(doc):
                where = "/".join(str(p) for p in error.absolute_path)
                problems.append(f"{path}: {name_of(doc)}: {where}: {error.message}")
            counts["crd"] += 1
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
            counts["kubernetes"] += 1
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{path}: {name_of(doc)}: {where}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"{path}: {name_of(doc)}: {error.message}")
        if doc.get("kind") == "ConfigMap" and "grafana_dashboard" in doc["metadata"].get(
            "labels", {}
        ):
            for key, text in (doc.get("data") or {}).items():
                try:
                    json.loads(text)
                except json.JSONDecodeError as error:
                    problems.append(f"{path}: {name_of(doc)}: {key}: not JSON: {error}")
    print(
        f"{os.path.basename(path)}: {len(docs)} manifests: {counts['kubernetes']} valid against Kubernetes "
        f"{kube_version}, {counts['crd']} custom resources (prometheus-operator, consul-k8s) "
        "checked by shape"
    )
    return problems


def services_tsv(path):
    """name -> (kind, port, metrics port) from services.tsv."""
    processes = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, _binary, kind, port, metrics = line.rstrip("\n").split("\t")[:5]
            processes[name] = (kind, int(port), int(metrics))
    return processes


def check_values(processes, values_path):
    """Problems where values.yaml disagrees with services.tsv."""
    problems = []
    with open(values_path, encoding="utf-8") as f:
        values = yaml.safe_load(f)
    defaults = values.get("serviceDefaults", {})
    entries = values.get("services") or {}
    for name, (kind, port, metrics) in processes.items():
        entry = entries.get(name)
        if entry is None:
            problems.append(
                f"{values_path}: services.{name} is missing (services.tsv lists {name}): "
                f"add an entry with kind {kind}, port {port}, metricsPort {metrics}"
            )
            continue
        got = (
            entry.get("kind", defaults.get("kind")),
            entry.get("port"),
            entry.get("metricsPort"),
        )
        if got != (kind, port, metrics):
            problems.append(
                f"{values_path}: services.{name} has kind/port/metricsPort {got}, "
                f"services.tsv says {(kind, port, metrics)}"
            )
    for name in entries:
        if name not in processes:
            problems.append(f"{values_path}: services.{name} is not in services.tsv")
    print(
        f"{values_path}: the {len(processes)} processes of services.tsv, with their ports"
        if not problems
        else f"{values_path}: disagrees with services.tsv"
    )
    return problems


def check_rendered(processes, default_docs):
    """Problems of the default rendering: a process without its objects, an unsafe container."""
    problems = []
    rendered = {(doc["kind"], doc["metadata"]["name"]): doc for doc in default_docs}
    for name in processes:
        for kind in ("Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"):
            if (kind, f"talentmesh-{name}") not in rendered:
                problems.append(f"default rendering: no {kind} talentmesh-{name}")
    for (kind, object_name), doc in rendered.items():
        if kind != "Deployment":
            continue
        spec = doc["spec"]["template"]["spec"]
        for container in spec["containers"]:
            context = container.get("securityContext", {})
            rules = {
                "runAsNonRoot": context.get("runAsNonRoot") is True,
                "readOnlyRootFilesystem": context.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation false": context.get("allowPrivilegeEscalation")
                is False,
                "capabilities drop ALL": context.get("capabilities", {}).get("drop") == ["ALL"],
                "liveness and readiness probes": "livenessProbe" in container
                and "readinessProbe" in container,
            }
            for rule, ok in rules.items():
                if not ok:
                    problems.append(f"default rendering: {object_name}: not {rule}")
    print(
        f"default rendering: every process of services.tsv has its objects, "
        f"{sum(kind == 'Deployment' for kind, _ in rendered)} Deployments run locked down"
    )
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kube-version", default="1.31.0")
    parser.add_argument("--services", required=True, help="services.tsv")
    parser.add_argument("--values", help="the chart's values.yaml, checked against services.tsv")
    parser.add_argument("renderings", nargs="*", help="helm template outputs, default first")
    args = parser.parse_args()
    problems = []
    processes = services_tsv(args.services)
    if args.values:
        problems += check_values(processes, args.values)
    rendered = {path: documents(path) for path in args.renderings}
    for path, docs in rendered.items():
        problems += check_schemas(path, docs, args.kube_version)
    if args.renderings:
        problems += check_rendered(processes, rendered[args.renderings[0]])
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
