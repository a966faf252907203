"""Lints, renders and validates the sso-gateway Helm chart offline.

Run by scripts/check-chart.sh inside the repository's virtualenv, with
helm-python-sdk (Helm's Go SDK through a shared library: lint, values schema,
template rendering, no helm binary, no cluster) and kubernetes-validate (the
Kubernetes OpenAPI schemas, offline).

For each scenario (default values, Sentinel, Cluster, existing Secret):
  1. `helm lint --strict` with the scenario's values;
  2. render the templates (values checked against values.schema.json);
  3. validate every rendered object against the Kubernetes schemas of
     KUBE_VERSION and of the newest version kubernetes-validate ships, in
     strict mode (unknown fields refused); custom resources
     (ServiceMonitor) are only checked to render and parse;
  4. check the chart's own invariants: gateway.toml parses, its ports are the
     container's, its drain delay and the pod's termination budget agree,
     every file it or a service file names is mounted, selectors select the
     gateway pods, the security context is the hardened one.
Then the negative controls: values that break the schema, a configuration
that overrides a chart-owned table, manifests broken on purpose and an
invariant broken on purpose must each be refused, after their untouched
versions were accepted.

Every failure prints the file, the object and the field. The last line is
"N passed, M failed".
"""

from __future__ import annotations

import copy
import json
import sys
import tomllib
from pathlib import Path, PurePosixPath

import helm_python as helm
import kubernetes_validate
import yaml

KUBE_VERSION = "1.30"
# Also the newest schemas kubernetes-validate ships, for the APIs to come.
NEWEST_KUBE_VERSION = "1.37"
RELEASE = "sso"
NAMESPACE = "sso"
CHART = Path(__file__).resolve().parent.parent / "sso-gateway"
CHECK_DIR = Path(__file__).resolve().parent
# API groups whose schemas are not Kubernetes' own (Prometheus Operator).
CUSTOM_GROUPS = ("monitoring.coreos.com/",)


class Report:
    """Counts checks and prints each one."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"ok    {what}")

    def fail(self, what: str, why: str) -> None:
        self.failed += 1
        print(f"FAIL  {what}\n      {why}")

    def check(self, what: str, problems: list[str]) -> None:
        if problems:
            self.fail(what, "\n      ".join(problems))
        else:
            self.ok(what)


def read_values(path: Path) -> dict:
    """A values file, parsed by Helm's own YAML reader."""
    return helm.values_from_yaml(path.read_text(encoding="utf-8"))


def deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def lint_problems(values: dict | None) -> list[str]:
    report = helm.lint(str(CHART), values, strict=True, kube_version=f"v{KUBE_VERSION}.0")
    problems = [f"{m['path']}: {m['error'].strip()}" for m in report.get("messages", []) if m["severity"] >= 2]
    problems += [e.strip() for e in report.get("errors", []) if e.strip() not in " ".join(problems)]
    return problems


def render(values: dict | None) -> dict[str, str]:
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)


def objects(rendered: dict[str, str]) -> list[tuple[str, dict]]:
    """(template file, object) for every rendered manifest (NOTES.txt aside)."""
    out = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(rendered[path]):
            if doc:
                out.append((path, doc))
    return out


def describe(path: str, obj: dict) -> str:
    return f"{path}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def schema_problem(obj: dict, version: str = KUBE_VERSION) -> str | None:
    """None when `obj` is valid for Kubernetes `version`, else the field and why."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as err:
        field = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        return f"Kubernetes {version}: field {field}: {err.message}"
    except kubernetes_validate.SchemaNotFoundError as err:
        return err.message
    return None


def find(objs: list[tuple[str, dict]], kind: str, suffix: str = "") -> dict | None:
    for _, obj in objs:
        if obj.get("kind") == kind and obj["metadata"]["name"].endswith(suffix):
            return obj
    return None


def toml_strings(node, prefix=""):
    """(dotted key, value) of every string in a parsed TOML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from toml_strings(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from toml_strings(value, f"{prefix}[{i}]")
    elif isinstance(node, str):
        yield prefix, node


# Keys of gateway.toml whose value is a file or a folder.
PATH_KEYS = ("_file", "_key", "_cert", "_dir", ".file")


def invariant_problems(objs: list[tuple[str, dict]], values: dict) -> list[str]:
    """The chart's promises about what it renders, checked on the objects;
    an object too malformed to be read is a problem too, not a crash."""
    try:
        return chart_promises(objs, values)
    except (KeyError, IndexError, TypeError, ValueError, StopIteration, AttributeError) as err:
        return [f"the rendered objects could not be read: {type(err).__name__}: {err}"]


def chart_promises(objs: list[tuple[str, dict]], values: dict) -> list[str]:
    problems: list[str] = []
    dep = find(objs, "Deployment")
    config_map = find(objs, "ConfigMap", "-config")
    if dep is None or config_map is None:
        return ["the Deployment or the -config ConfigMap is missing"]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    gateway = next(c for c in spec["containers"] if c["name"] == "gateway")
    try:
        config = tomllib.loads(config_map["data"]["gateway.toml"])
    except tomllib.TOMLDecodeError as err:
        return [f"configmap.yaml: gateway.toml does not parse: {err}"]

    ports = {p["name"]: p["containerPort"] for p in gateway["ports"]}
    listen_port = int(config["server"]["listen"].rsplit(":", 1)[1])
    if ports.get("http") != listen_port:
        problems.append(f"[server] listen port {listen_port} is not the container port http {ports.get('http')}")
    if "metrics" in config:
        metrics_port = int(config["metrics"]["listen"].rsplit(":", 1)[1])
        if ports.get("metrics") != metrics_port:
            problems.append(f"[metrics] listen port {metrics_port} is not the container port metrics {ports.get('metrics')}")

    # Drain: preStop pause + shutdown_grace_seconds + margin = grace period.
    grace = config["server"].get("shutdown_grace_seconds")
    sleep = int(gateway["lifecycle"]["preStop"]["exec"]["command"][-1])
    budget = spec["terminationGracePeriodSeconds"]
    drain = values.get("drain", {})
    margin = drain.get("exitMarginSeconds", 5)
    if grace is None:
        problems.append("[server] shutdown_grace_seconds is missing")
    elif budget != sleep + grace + margin or budget <= sleep + grace:
        problems.append(
            f"spec.template.spec.terminationGracePeriodSeconds {budget} != preStop {sleep} "
            f"+ shutdown_grace_seconds {grace} + margin {margin}"
        )

    # The store table has what its mode needs.
    store = config.get("store", {})
    needs = {"standalone": ["url"], "sentinel": ["sentinels", "master_name"], "cluster": ["nodes"]}
    if store.get("kind") == "redis":
        missing = [k for k in needs.get(store.get("mode"), ["mode"]) if not store.get(k)]
        if missing:
            problems.append(f"[store] mode {store.get('mode')!r} without {', '.join(missing)}")

    # A ConfigMap holds at most 1 MiB.
    for path, obj in objs:
        if obj.get("kind") == "ConfigMap":
            size = sum(len(v.encode("utf-8")) for v in obj.get("data", {}).values())
            if size > 1024 * 1024 - 64 * 1024:
                problems.append(f"{describe(path, obj)}: {size} bytes of data, over the ConfigMap limit (1 MiB)")

    # Every file gateway.toml names is mounted (projected items) or lives in
    # the cache folder.
    config_dir = PurePosixPath("/etc/sso-gateway")
    mounts = {m["name"]: m["mountPath"] for m in gateway["volumeMounts"]}
    if mounts.get("config") != str(config_dir):
        problems.append(f"the config volume is mounted at {mounts.get('config')}, not {config_dir}")
    volume = next(v for v in spec["volumes"] if v["name"] == "config")
    projected = set()
    for source in volume["projected"]["sources"]:
        for item in next(iter(source.values())).get("items", []):
            projected.add(item["path"])
            projected.update(str(p) for p in PurePosixPath(item["path"]).parents)
    cache_dir = mounts.get("cache", "(none)")
    for key, value in toml_strings(config):
        if not key.endswith(PATH_KEYS):
            continue
        path = PurePosixPath(value)
        if path.is_absolute():
            if not str(path).startswith(cache_dir + "/"):
                problems.append(f"gateway.toml {key} = {value!r}: an absolute path outside the cache folder {cache_dir}")
        elif str(path) not in projected:
            problems.append(f"gateway.toml {key} = {value!r}: no such file in the projected config volume")

    # The connection traces go to a writable volume of their own.
    if "audit" in config:
        audit_dir = config["audit"].get("dir", "")
        writable = {m["mountPath"] for m in gateway["volumeMounts"] if not m.get("readOnly")}
        if audit_dir not in writable:
            problems.append(f"gateway.toml [audit] dir = {audit_dir!r}: not a writable volume mount of the gateway container")

    # Every service file parses, and the files it names are in the folder.
    services = find(objs, "ConfigMap", "-services")
    folder = set(services.get("data", {})) if services else set()
    for name in sorted(n for n in folder if n.endswith(".toml")):
        try:
            service = tomllib.loads(services["data"][name])
        except tomllib.TOMLDecodeError as err:
            problems.append(f"services/{name} does not parse: {err}")
            continue
        for key, value in toml_strings(service):
            if key.endswith(PATH_KEYS) and not PurePosixPath(value).is_absolute() and value not in folder:
                problems.append(f"services/{name} {key} = {value!r}: no such file in registry.files")

    # The chart's Secret holds every key the pods mount from it.
    secret = find(objs, "Secret")
    if secret is not None:
        held = set(secret.get("data", {}))
        for source in volume["projected"]["sources"]:
            for item in source.get("secret", {}).get("items", []):
                if item["key"] not in held:
                    problems.append(f"the Secret has no key {item['key']!r} that the pods mount")

    # Selectors select the gateway pods (and only through their labels).
    labels = pod["metadata"]["labels"]

    def selects(selector: dict, what: str) -> None:
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"{what} selector {selector} does not select the gateway pods {labels}")

    selects(dep["spec"]["selector"]["matchLabels"], "Deployment")
    service = find(objs, "Service")
    selects(service["spec"]["selector"], "Service")
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    for p in service["spec"]["ports"]:
        if p["targetPort"] not in ports:
            problems.append(f"Service port {p['name']} targets {p['targetPort']}, not a container port")
    pdb = find(objs, "PodDisruptionBudget")
    if pdb is not None:
        selects(pdb["spec"]["selector"]["matchLabels"], "PodDisruptionBudget")
    hpa = find(objs, "HorizontalPodAutoscaler")
    if hpa is not None:
        if hpa["spec"]["scaleTargetRef"]["name"] != dep["metadata"]["name"]:
            problems.append("the HPA does not scale the Deployment")
        if "replicas" in dep["spec"]:
            problems.append("spec.replicas is set while the HPA scales the Deployment")
    elif dep["spec"].get("replicas", 1) < 2:
        problems.append(f"spec.replicas is {dep['spec'].get('replicas', 1)}: no high availability")
    monitor = find(objs, "ServiceMonitor")
    if monitor is not None:
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint["port"] not in service_ports:
                problems.append(f"ServiceMonitor port {endpoint['port']} is not a Service port")
    if "checksum/config" not in pod["metadata"].get("annotations", {}):
        problems.append("the pod template has no checksum/config annotation")

    # Hardened containers, for the gateway and the import job alike.
    containers = [("Deployment", c) for c in spec["containers"]]
    cron = find(objs, "CronJob")
    if cron is not None:
        job_spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        containers += [("CronJob", c) for c in job_spec["containers"]]
        if job_spec["containers"][0]["args"][:4] != ["aaf", "--config", "/etc/sso-gateway/gateway.toml", "import"]:
            problems.append(f"CronJob args {job_spec['containers'][0]['args']} are not an AAF import")
    for owner, c in containers:
        sc = c.get("securityContext", {})
        if not (
            sc.get("runAsNonRoot")
            and sc.get("readOnlyRootFilesystem")
            and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"]
            and sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        ):
            problems.append(f"{owner} container {c['name']}: securityContext is not the hardened one: {sc}")
    return problems


def check_scenario(report: Report, name: str, values: dict | None) -> list[tuple[str, dict]] | None:
    report.check(f"[{name}] helm lint --strict (Kubernetes {KUBE_VERSION})", lint_problems(values))
    try:
        rendered = render(values)
    except helm.HelmError as err:
        report.fail(f"[{name}] render", str(err).strip())
        return None
    objs = objects(rendered)
    report.ok(f"[{name}] render: {len(objs)} objects from {len(rendered)} templates")
    for path, obj in objs:
        what = f"[{name}] {describe(path, obj)}"
        if obj.get("apiVersion", "").startswith(CUSTOM_GROUPS):
            report.check(f"{what} renders (custom resource: no Kubernetes schema)",
                         [] if obj.get("spec") else ["no spec"])
            continue
        problems = [p for p in (schema_problem(obj, v) for v in (KUBE_VERSION, NEWEST_KUBE_VERSION)) if p]
        report.check(f"{what} valid for Kubernetes {KUBE_VERSION} and {NEWEST_KUBE_VERSION}", problems)
    with helm.Chart.load(str(CHART)) as chart:
        merged = chart.merge_values(values)
    report.check(f"[{name}] chart invariants (ports, drain budget, store, mounted files, selectors, security)",
                 invariant_problems(objs, merged))
    return objs


def expect_refused(report: Report, what: str, action) -> None:
    """A negative control: `action` must raise (or return problems)."""
    try:
        result = action()
    except helm.HelmError as err:
        first = str(err).strip().splitlines()
        report.ok(f"{what}: refused ({' / '.join(line.strip() for line in first[-2:])})")
        return
    if isinstance(result, (list, str)) and result:
        shown = result[0] if isinstance(result, list) else result
        report.ok(f"{what}: refused ({shown})")
    else:
        report.fail(what, "was accepted")


def negative_controls(report: Report, default_objs: list[tuple[str, dict]], defaults: dict) -> None:
    bad_values = read_values(CHECK_DIR / "bad-values.yaml")
    expect_refused(report, "[negative] replicaCount: \"three\" at render (values.schema.json)", lambda: render(bad_values))
    expect_refused(report, "[negative] replicaCount: \"three\" at lint", lambda: lint_problems(bad_values))
    expect_refused(report, "[negative] store.mode: \"sentinal\" (values.schema.json)",
                   lambda: render({"store": {"mode": "sentinal"}}))
    expect_refused(report, "[negative] an unknown top-level value (values.schema.json)",
                   lambda: render({"replicas": 3}))
    expect_refused(report, "[negative] values.config with its own [store] table",
                   lambda: render({"config": "[store]\nkind = \"memory\"\n"}))
    try:
        render({"store": {"kind": "memory"}, "replicaCount": 1, "autoscaling": {"enabled": False}})
        report.ok("[positive] the memory store with one replica and no HPA renders")
    except helm.HelmError as err:
        report.fail("[positive] the memory store with one replica and no HPA renders", str(err).strip())
    expect_refused(report, "[negative] the memory store with 3 replicas",
                   lambda: render({"store": {"kind": "memory"}}))
    expect_refused(report, "[negative] a chart-made Secret without the signing key",
                   lambda: render({"secrets": {"existingSecret": "", "data": {"identifier.secret": "x"}}}))
    expect_refused(report, "[negative] Sentinel mode without sentinels",
                   lambda: render({"store": {"mode": "sentinel"}}))

    # Manifests broken on purpose: the same rendered Deployment, valid above,
    # refused once mutated.
    dep = find(default_objs, "Deployment")
    mutations = {
        "spec.replicas as a string": lambda d: d["spec"].__setitem__("replicas", "three"),
        "an unknown field in the pod spec": lambda d: d["spec"]["template"]["spec"].__setitem__(
            "terminationGracePeriod", 30),
        "a container without a name": lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"),
        "a probe port that is neither a number nor a name": lambda d: d["spec"]["template"]["spec"][
            "containers"][0]["readinessProbe"]["httpGet"].__setitem__("port", ["http"]),
    }
    for label, mutate in mutations.items():
        broken = copy.deepcopy(dep)
        mutate(broken)
        expect_refused(report, f"[negative] Deployment with {label} (kubernetes-validate)",
                       lambda b=broken: schema_problem(b))
    broken_file = CHECK_DIR / "broken-manifest.yaml"
    for doc in yaml.safe_load_all(broken_file.read_text(encoding="utf-8")):
        expect_refused(report, f"[negative] {broken_file.name}: {doc['kind']}/{doc['metadata']['name']}",
                       lambda d=doc: schema_problem(d))

    # An invariant broken on purpose: the drain delay disagrees with the pod.
    broken_objs = copy.deepcopy(default_objs)
    cm = find(broken_objs, "ConfigMap", "-config")
    cm["data"]["gateway.toml"] = cm["data"]["gateway.toml"].replace(
        "shutdown_grace_seconds = 20", "shutdown_grace_seconds = 60")
    expect_refused(report, "[negative] shutdown_grace_seconds longer than the pod's termination budget",
                   lambda: invariant_problems(broken_objs, defaults))
    broken_objs = copy.deepcopy(default_objs)
    cm = find(broken_objs, "ConfigMap", "-config")
    cm["data"]["gateway.toml"] = cm["data"]["gateway.toml"].replace(
        'identifier_secret_file = "keys/identifier.secret"', 'identifier_secret_file = "keys/identifer.secret"')
    expect_refused(report, "[negative] gateway.toml naming a key file that is not mounted",
                   lambda: invariant_problems(broken_objs, defaults))
    broken_objs = copy.deepcopy(default_objs)
    cm = find(broken_objs, "ConfigMap", "-config")
    cm["data"]["gateway.toml"] = cm["data"]["gateway.toml"].replace(
        'dir = "/var/lib/sso-gateway/audit"', 'dir = "/var/lib/sso-gateway/traces"')
    expect_refused(report, "[negative] [audit] dir outside the traces' volume",
                   lambda: invariant_problems(broken_objs, defaults))
    broken_objs = copy.deepcopy(default_objs)
    find(broken_objs, "ConfigMap", "-services")["data"]["ent.toml"] = 'id = "ent"\n[saml]\nmetadata_file = "ent.xml"\n'
    expect_refused(report, "[negative] a service file naming a metadata file missing from registry.files",
                   lambda: invariant_problems(broken_objs, defaults))


def main() -> int:
    report = Report()
    print(f"chart {CHART} with Helm SDK {helm.helm_sdk_version()} (helm-c {helm.helm_c_version()}), "
          f"kubernetes-validate schemas {KUBE_VERSION}")
    dashboards = sorted((CHART / "dashboards").glob("*.json"))
    for path in dashboards:
        try:
            json.loads(path.read_text(encoding="utf-8"))
            report.ok(f"dashboards/{path.name} is JSON")
        except json.JSONDecodeError as err:
            report.fail(f"dashboards/{path.name} is JSON", str(err))
    scenarios = {
        "default": None,
        "sentinel": read_values(CHART / "ci" / "sentinel-values.yaml"),
        "cluster": read_values(CHART / "ci" / "cluster-values.yaml"),
        "existing-secret": read_values(CHART / "ci" / "existing-secret-values.yaml"),
    }
    if dashboards:
        scenarios["sentinel"] = deep_merge(scenarios["sentinel"], {"grafanaDashboard": {"enabled": True}})
    else:
        print("note  no dashboards/*.json yet: the dashboard ConfigMap is not rendered")
    rendered = {name: check_scenario(report, name, values) for name, values in scenarios.items()}
    if rendered["default"] is not None:
        with helm.Chart.load(str(CHART)) as chart:
            defaults = chart.merge_values(None)
        negative_controls(report, rendered["default"], defaults)
    else:
        report.fail("negative controls", "skipped: the default values do not render")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
