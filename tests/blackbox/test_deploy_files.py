"""Deployment as code is checked without Docker, Kubernetes or Terraform (none runs here):
every file parses (PyYAML, python-hcl2, HAProxy's own `-c`, the Kubernetes schemas of
kubernetes-validate), and the wiring that would break a real deployment is consistent —
references resolve, services depend on what they need, environment names are ones the
binary reads, probes and health checks point at /health and /ready.
"""

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import hcl2
import kubernetes_validate
import pytest
import yaml
from deploy_lint import (
    binary_env_names,
    code_only,
    compose_depends,
    compose_env,
    dockerfile_instructions,
    haproxy_backends,
    haproxy_timeout_seconds,
    http_routes,
    load_module,
    module_problems,
    unquote,
)

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TERRAFORM = ROOT / "terraform"
COMPOSE = INFRA / "compose" / "compose.yaml"
HAPROXY = INFRA / "compose" / "haproxy.cfg"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
K8S = INFRA / "k8s"
OPERATIONS = ROOT / "docs" / "operations.md"

# Settings of distributed mode that the deployment files already use but the binary does
# not read yet (others are adding them). Each entry: environment name -> arc-config key.
# When a name becomes readable, test_pending_names_are_still_pending fails: remove it here.
PENDING_ENV = {}
# Endpoints the probes use that the binary does not serve yet (same rule: remove when served).
PENDING_ROUTES = set()
# Names the binary reads that are not its own settings.
EXTERNAL_ENV = {
    "RUST_LOG",  # tracing's EnvFilter::try_from_default_env (main.rs)
    "AWS_ACCESS_KEY_ID",  # the AWS SDK's default credential chain
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
}
# Query parameters of the two archive URIs, as the distributed-mode issue defines them.
LOG_URI_PARAMS = {"replication_factor", "min_insync_replicas"}
STORE_URI_PARAMS = {"region", "endpoint", "path_style"}
LONG_TIMEOUT_S = 600  # STOW of a study / WADO of one: proxies must allow at least this


@pytest.fixture(scope="module")
def readable():
    keys, names = binary_env_names(ROOT)
    return keys, names


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def k8s_docs():
    docs = []
    for f in sorted(K8S.glob("*.yaml")):
        docs += [(f.name, d) for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def arcstream_services(compose):
    return {
        name: s
        for name, s in compose["services"].items()
        if (s.get("build") or {}).get("dockerfile") == "infra/docker/Dockerfile"
        or str(s.get("image", "")).startswith("arcstream")
    }


def env_names_in_text(text):
    return set(re.findall(r"\bARCSTREAM_[A-Z0-9_]+\b", text))


# --- every file parses -----------------------------------------------------------------


def test_every_yaml_file_parses():
    files = sorted(INFRA.rglob("*.yaml")) + sorted(INFRA.rglob("*.yml"))
    assert COMPOSE in files and len(files) >= 8, files
    for f in files:
        list(yaml.safe_load_all(f.read_text()))


def test_every_terraform_folder_is_valid_and_consistent():
    folders = sorted({tf.parent for tf in TERRAFORM.rglob("*.tf")})
    assert TERRAFORM in folders and TERRAFORM / "examples" / "basic" in folders, folders
    for folder in folders:
        problems = module_problems(load_module(folder))
        assert not problems, f"{folder.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def test_module_files_are_where_terraform_users_look():
    for name in ("versions.tf", "variables.tf", "outputs.tf", "README.md"):
        assert (TERRAFORM / name).is_file(), name
    example = load_module(TERRAFORM / "examples" / "basic")
    assert any(unquote(b.get("source")) == "../.." for b in example.modules.values()), "the example must call the module"
    tfvars = hcl2.loads((TERRAFORM / "examples" / "basic" / "terraform.tfvars.example").read_text())
    unknown = {k for k in tfvars if not k.startswith("__")} - set(example.variables)
    assert not unknown, f"terraform.tfvars.example sets undeclared variables {unknown}"
    required = {v for v, b in example.variables.items() if "default" not in b}
    assert required <= set(tfvars), f"terraform.tfvars.example misses {required - set(tfvars)}"


def test_haproxy_accepts_its_config(tmp_path):
    haproxy = shutil.which("haproxy")
    assert haproxy, "haproxy is not installed (tests/run installs it)"
    r = subprocess.run([haproxy, "-c", "-f", str(HAPROXY)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_kubernetes_manifests_match_the_api_schemas(k8s_docs):
    for name, doc in k8s_docs:
        if doc["kind"] == "Kustomization":
            continue
        # Strict: an unknown field (a typo such as `readinesProbe`) is an error, not ignored.
        kubernetes_validate.validate(doc, "1.29.0", strict=True)


# --- the settings the nodes get are settings the binary reads ----------------------------


def deploy_env_names(compose, k8s_docs):
    """Every environment name given to an arcstream container, with where it comes from."""
    names = {}
    for svc_name, svc in arcstream_services(compose).items():
        for k in compose_env(svc):
            names.setdefault(k, set()).add(f"compose {svc_name}")
    for fname, doc in k8s_docs:
        if doc["kind"] in ("ConfigMap", "Secret"):
            for k in list(doc.get("data") or {}) + list(doc.get("stringData") or {}):
                names.setdefault(k, set()).add(f"k8s {fname}")
        if doc["kind"] == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    names.setdefault(e["name"], set()).add(f"k8s {fname}")
    for tf in TERRAFORM.rglob("*.tf"):
        for k in env_names_in_text(code_only(tf.read_text()) + tf.read_text()):
            names.setdefault(k, set()).add(f"terraform {tf.name}")
    for word, args in dockerfile_instructions(DOCKERFILE.read_text()):
        if word == "ENV":
            for k in re.findall(r"(\w+)=", args):
                names.setdefault(k, set()).add("Dockerfile")
    return names


def test_every_environment_name_is_read_by_the_binary(compose, k8s_docs, readable):
    _, binary = readable
    used = deploy_env_names(compose, k8s_docs)
    assert {"ARCSTREAM_LOG", "ARCSTREAM_STORE", "ARCSTREAM_DATA_DIR", "ARCSTREAM_LISTEN"} <= set(used)
    unknown = {
        k: sorted(where) for k, where in used.items() if k not in binary and k not in PENDING_ENV and k not in EXTERNAL_ENV
    }
    assert not unknown, f"names the binary does not read (typo, or add to PENDING_ENV with a comment): {unknown}"


def test_pending_names_are_still_pending(readable):
    keys, binary = readable
    for env, key in PENDING_ENV.items():
        assert env not in binary, f"{env} is read by the binary now: remove it from PENDING_ENV in {Path(__file__).name}"
        assert key not in keys, (
            f"setting `{key}` landed in arc-config but is read as ARCSTREAM_{key.upper()}, not {env}: "
            f"make the deployment files and docs/operations.md use the real name, then drop it from PENDING_ENV"
        )
    routes = http_routes(ROOT)
    assert "/health" in routes, "the binary no longer routes /health, which every probe uses"
    for route in PENDING_ROUTES:
        assert route not in routes, f"{route} is served now: remove it from PENDING_ROUTES in {Path(__file__).name}"


def test_external_names_are_really_read():
    main = (ROOT / "services/arcstream/src/main.rs").read_text()
    assert "from_default_env" in main, "main.rs no longer reads RUST_LOG; drop it from the deployment files"


def test_operations_guide_lists_every_setting(compose, k8s_docs, readable):
    keys, binary = readable
    text = OPERATIONS.read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    listed = env_names_in_text(section)
    wanted = set(deploy_env_names(compose, k8s_docs)) - EXTERNAL_ENV
    wanted |= {f"ARCSTREAM_{k.upper()}" for k in keys}
    assert not wanted - listed, f"docs/operations.md 'Settings' does not list {sorted(wanted - listed)}"
    phantom = listed - binary - set(PENDING_ENV)
    assert not phantom, f"docs/operations.md lists names nobody reads: {sorted(phantom)}"


def check_log_uri(uri, brokers=None):
    u = urlsplit(uri)
    assert u.scheme == "kafka" and u.netloc and u.path.strip("/"), uri
    q = {k: v[0] for k, v in parse_qs(u.query).items()}
    assert set(q) <= LOG_URI_PARAMS, f"{uri}: unknown parameters {set(q) - LOG_URI_PARAMS}"
    rf, mir = int(q["replication_factor"]), int(q["min_insync_replicas"])
    assert 1 <= mir <= rf, uri
    if brokers is not None:
        assert rf <= brokers, f"{uri}: replication_factor {rf} but {brokers} broker(s)"
    return u, rf, mir


def check_store_uri(uri):
    u = urlsplit(uri)
    assert u.scheme == "s3" and u.netloc and u.path.strip("/"), uri
    q = parse_qs(u.query)
    assert set(q) <= STORE_URI_PARAMS, f"{uri}: unknown parameters {set(q) - STORE_URI_PARAMS}"
    return u, {k: v[0] for k, v in q.items()}


# --- compose ---------------------------------------------------------------------------


def test_compose_nodes_get_what_they_need(compose):
    services = compose["services"]
    nodes = arcstream_services(compose)
    assert len(nodes) == 3, sorted(nodes)
    kafka_brokers = sum(1 for s in services.values() if "apache/kafka" in str(s.get("image")))
    node_ids, volumes = set(), set()
    for name, svc in nodes.items():
        env = compose_env(svc)
        log, _, _ = check_log_uri(env["ARCSTREAM_LOG"], brokers=kafka_brokers)
        store, q = check_store_uri(env["ARCSTREAM_STORE"])
        deps = compose_depends(svc)
        # The log's and the store's hosts are compose services this node waits for.
        for host in [h.split(":")[0] for h in log.netloc.split(",")] + [urlsplit(q["endpoint"]).hostname]:
            assert host in services, f"{name}: {host} is not a compose service"
            assert deps.get(host) == "service_healthy", f"{name} must wait for {host} to be healthy"
        bucket_made = re.compile(rf"\bmc mb\b[^&;|]*\s[\w.-]+/{re.escape(store.netloc)}(\s|$|&|;)")
        makers = [n for n, s in services.items() if bucket_made.search(" ".join(map(str, s.get("command") or [])))]
        assert makers, f"no service creates bucket {store.netloc}"
        for m in makers:
            assert deps.get(m) == "service_completed_successfully", f"{name} must wait for {m} to finish"
            assert compose_depends(services[m]).get(q["endpoint"].split("//")[1].split(":")[0]) == "service_healthy"
        # Each node has its own projection volume at its data folder.
        mounts = [v for v in svc.get("volumes", []) if str(v).split(":")[1] == env["ARCSTREAM_DATA_DIR"]]
        assert len(mounts) == 1, f"{name}: one volume at {env['ARCSTREAM_DATA_DIR']}"
        volumes.add(mounts[0].split(":")[0])
        node_ids.add(env.get("ARCSTREAM_NODE_ID"))
        assert env["ARCSTREAM_LISTEN"].startswith("0.0.0.0:"), "a container must listen on every interface"
        assert svc["healthcheck"]["test"][-1].endswith("/health")
    assert len(volumes) == 3 and volumes <= set(compose["volumes"]), volumes
    assert len(node_ids - {None}) == 3, node_ids


def test_compose_kafka_is_a_working_single_broker(compose):
    kafka = next(s for s in compose["services"].values() if "apache/kafka" in str(s.get("image")))
    env = compose_env(kafka)
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    node_id = env["KAFKA_NODE_ID"]
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [f"{node_id}@{kafka['hostname']}:9093"], voters
    assert f"//{kafka['hostname']}:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # One broker: every internal topic must fit on it, or the broker never gets going.
    for k in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[k] == "1", k
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_LOG_RETENTION_MS"] == "-1"


def test_compose_proxy_forwards_to_every_node_when_ready(compose):
    services = compose["services"]
    nodes = arcstream_services(compose)
    proxy = services["proxy"]
    assert set(compose_depends(proxy)) >= set(nodes)
    assert any(str(v).startswith("./haproxy.cfg:") for v in proxy["volumes"])
    text = HAPROXY.read_text()
    backends = haproxy_backends(text)
    http = [b for b in backends.values() if "mode http" in b["lines"]]
    assert len(http) == 1, backends.keys()
    for b in backends.values():
        hosts = {h for h, _, _ in b["servers"].values()}
        assert hosts == set(nodes), f"backend servers {hosts} != nodes {set(nodes)}"
        assert all("check" in opts for _, _, opts in b["servers"].values())
        assert "option httpchk" in b["lines"] and "http-check send meth GET uri /ready" in b["lines"]
        assert "http-check expect status 200" in b["lines"]
    listen_port = {compose_env(s)["ARCSTREAM_LISTEN"].rsplit(":", 1)[1] for s in nodes.values()}
    assert {p for _, p, _ in http[0]["servers"].values()} == listen_port
    for t in ("client", "server"):
        assert (haproxy_timeout_seconds(text, t) or 0) >= LONG_TIMEOUT_S, f"timeout {t} too short for STOW/WADO"
    directives = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert "http-buffer-request" not in directives, "buffering whole requests would hold studies in the proxy"


# --- Kubernetes ------------------------------------------------------------------------


def test_kubernetes_objects_fit_together(k8s_docs):
    by_kind = {}
    for _, d in k8s_docs:
        by_kind.setdefault(d["kind"], []).append(d)
    for kind in ("Namespace", "ConfigMap", "Deployment", "Service", "Ingress", "PodDisruptionBudget"):
        assert kind in by_kind, kind
    ns = by_kind["Namespace"][0]["metadata"]["name"]
    for _, d in k8s_docs:
        if d["kind"] not in ("Namespace", "Kustomization"):
            assert d["metadata"].get("namespace") == ns, f"{d['kind']} {d['metadata']['name']} outside {ns}"
    kustomization = next(d for _, d in k8s_docs if d["kind"] == "Kustomization")
    files = {f.name for f in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files, "kustomization.yaml must list every manifest"

    dep = by_kind["Deployment"][0]
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for kind in ("Service", "PodDisruptionBudget"):
        obj = by_kind[kind][0]
        sel = obj["spec"]["selector"] if kind == "Service" else obj["spec"]["selector"]["matchLabels"]
        assert sel.items() <= labels.items(), f"{kind} selects no pod"
    c = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = c[probe]["httpGet"]["port"]
        assert port in ports or port in ports.values(), f"{probe} port {port}"
    cm = {d["metadata"]["name"]: d for d in by_kind["ConfigMap"]}
    env = {}
    for src in c["envFrom"]:
        if "configMapRef" in src:
            env.update(cm[src["configMapRef"]["name"]]["data"])
    assert int(env["ARCSTREAM_LISTEN"].rsplit(":", 1)[1]) == ports["http"]
    _, rf, mir = check_log_uri(env["ARCSTREAM_LOG"])
    assert (rf, mir) == (3, 2), "production settings: three replicas, two in sync"
    check_store_uri(env["ARCSTREAM_STORE"])
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == env["ARCSTREAM_DATA_DIR"])
    vol = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in vol or "ephemeral" in vol, "the projection cache lives and dies with the pod"
    assert c["resources"]["requests"].get("cpu") and c["resources"]["requests"].get("memory")
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True

    svc = by_kind["Service"][0]
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert svc_ports["http"]["targetPort"] in (ports["http"], "http")
    ing = by_kind["Ingress"][0]
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == svc["metadata"]["name"] and backend["port"]["name"] in svc_ports
    ann = ing["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/proxy-body-size"] == "0"
    for t in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(ann[f"nginx.ingress.kubernetes.io/{t}"]) >= LONG_TIMEOUT_S, t


# --- Terraform semantics ---------------------------------------------------------------


def resource(module, rtype, name):
    return module.resources[(rtype, name)]


def test_terraform_archive_is_protected_and_nodes_are_probed():
    m = load_module(TERRAFORM)
    bucket = [k for k in m.resources if k[0] == "aws_s3_bucket"]
    assert len(bucket) == 1
    ((_, b),) = bucket
    assert resource(m, "aws_s3_bucket_versioning", b)["versioning_configuration"][0]["status"] == '"Enabled"'
    sse = resource(m, "aws_s3_bucket_server_side_encryption_configuration", b)["rule"][0]
    assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == '"aws:kms"'
    pab = resource(m, "aws_s3_bucket_public_access_block", b)
    for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert pab[k] is True, k
    rules = resource(m, "aws_s3_bucket_lifecycle_configuration", b)["rule"]
    assert any("noncurrent_version_expiration" in r for r in rules)
    for key in (("aws_s3_bucket", b), next(k for k in m.resources if k[0] == "aws_msk_cluster")):
        assert m.resources[key]["lifecycle"][0].get("prevent_destroy") is True, f"{key} holds the archive"
    props = next(v for k, v in m.resources.items() if k[0] == "aws_msk_configuration")["server_properties"]
    for line in ("auto.create.topics.enable=false", "unclean.leader.election.enable=false", "log.retention.ms=-1"):
        assert line in props, line
    tg = next(v for k, v in m.resources.items() if k[0] == "aws_lb_target_group")
    assert unquote(tg["health_check"][0]["path"]) == "/ready"
    task = next(v for k, v in m.resources.items() if k[0] == "aws_ecs_task_definition")
    assert "/health" in task["container_definitions"]
    svc = next(v for k, v in m.resources.items() if k[0] == "aws_ecs_service")
    lb = svc["load_balancer"][0]
    assert lb["container_port"] == tg["port"], "the service registers the port the target group checks"
    assert "ARCSTREAM_LISTEN" in (TERRAFORM / "main.tf").read_text()
    listen = re.search(r'ARCSTREAM_LISTEN\s*=\s*"0\.0\.0\.0:\$\{([^}]+)\}"', (TERRAFORM / "main.tf").read_text())
    assert listen and "${" + listen.group(1) + "}" == tg["port"], "nodes listen on the target group's port"


# --- Dockerfile ------------------------------------------------------------------------


def test_dockerfile_builds_the_binary_into_a_non_root_image():
    ins = dockerfile_instructions(DOCKERFILE.read_text())
    froms = [a for w, a in ins if w == "FROM"]
    assert len(froms) >= 2, "multi-stage: build, then a slim runtime"
    assert any("cargo build" in a and "-p arcstream" in a and "--locked" in a for w, a in ins if w == "RUN")
    runtime = ins[max(i for i, (w, _) in enumerate(ins) if w == "FROM") :]
    users = [a for w, a in runtime if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    exposed = {p for w, a in runtime if w == "EXPOSE" for p in a.split()}
    assert {"8080", "11112"} <= exposed
    assert any("/data" in a for w, a in runtime if w == "VOLUME")
    assert any("arcstream" in a for w, a in runtime if w == "ENTRYPOINT")
    # The build image's toolchain must be new enough for the workspace.
    arg = next(a for w, a in ins if w == "ARG" and a.startswith("RUST_VERSION="))
    have = tuple(int(x) for x in arg.split("=")[1].split("."))
    need = re.search(r'rust-version\s*=\s*"([\d.]+)"', (ROOT / "Cargo.toml").read_text()).group(1)
    assert have >= tuple(int(x) for x in need.split(".")), f"RUST_VERSION {have} < rust-version {need}"
    compose_build = yaml.safe_load(COMPOSE.read_text())
    for svc in arcstream_services(compose_build).values():
        b = svc["build"]
        assert (COMPOSE.parent / b["context"] / b["dockerfile"]).resolve() == DOCKERFILE


# --- the checkers can fail -------------------------------------------------------------


def test_checker_finds_broken_terraform(tmp_path):
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "main.tf").write_text(
        'terraform {\n  required_version = ">= 1.5"\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
        'variable "needed" {\n  type        = string\n  description = "x"\n}\n'
        'resource "aws_s3_bucket" "b" {\n  bucket = var.needed\n}\n'
        'output "arn" {\n  description = "x"\n  value       = aws_s3_bucket.b.arn\n}\n'
    )
    (tmp_path / "main.tf").write_text(
        'terraform {\n  required_version = ">= 1.5"\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
        'variable "unused" {\n  type = string\n}\n'
        'module "c" {\n  source = "./child"\n  typo = "x"\n}\n'
        'resource "aws_s3_bucket" "b" {\n  bucket = "${var.missing}-${local.nope}" # var.in_comment\n'
        '  tags   = { Name = aws_s3_bucket.other.id, s = "aws_s3_bucket.in_string" }\n}\n'
        'output "o" {\n  value = module.c.nothing\n}\n'
        'output "p" {\n  description = "x"\n  value = random_id.x.hex\n}\n'
    )
    problems = "\n".join(module_problems(load_module(tmp_path)))
    for expected in (
        "var.missing is used but not declared",
        "variable 'unused' is declared but never used",
        "variable 'unused' has no description",
        "local.nope is used but not defined",
        "resource aws_s3_bucket.other is referenced but not declared",
        "output 'o' has no description",
        "module 'c' passes 'typo'",
        "module 'c' does not pass required variable 'needed'",
        "module.c.nothing: ./child has no output 'nothing'",
    ):
        assert expected in problems, f"{expected!r} not found in:\n{problems}"
    # Text in comments and string literals is not code; an unknown provider is not a resource.
    assert "in_comment" not in problems and "in_string" not in problems and "random_id" not in problems
    (tmp_path / "bad.tf").write_text('resource "aws_s3_bucket" {\n  bucket = \n')
    with pytest.raises(AssertionError, match="not valid HCL"):
        load_module(tmp_path)


def test_checker_finds_unknown_settings_and_bad_manifests():
    assert "ARCSTREAM_LOGG" not in binary_env_names(ROOT)[1]
    with pytest.raises(AssertionError):
        check_log_uri("kafka://k:9092/t?replication_factor=3&min_insync_replicas=2", brokers=1)
    with pytest.raises(AssertionError):
        check_store_uri("s3://bucket/prefix?pathstyle=true")
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": 80, "targetPortt": 1}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.29.0", strict=True)
