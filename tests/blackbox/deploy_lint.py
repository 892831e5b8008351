"""Checks of the deployment files that need no Terraform, Docker or cluster: HCL references,
the settings the binary reads, and small parsers for compose, HAProxy and Dockerfiles.

The test file test_deploy_files.py applies these to the repository; its self-tests apply
them to broken inputs, so a checker that finds nothing cannot pass unnoticed.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

# --- HCL -------------------------------------------------------------------------------

IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
# Terraform's own names and block meta-arguments: never references to declarations.
MODULE_META_ARGS = {"source", "version", "providers", "count", "for_each", "depends_on"}


def unquote(key):
    """python-hcl2 (v7+) keeps the quotes of block labels and string values."""
    return key[1:-1] if isinstance(key, str) and len(key) >= 2 and key[0] == key[-1] == '"' else key


def real_keys(d):
    """Keys of a parsed block without python-hcl2's bookkeeping (__is_block__, __comments__)."""
    return [k for k in d if not (isinstance(k, str) and k.startswith("__"))]


def code_only(text):
    """The HCL text with comments removed and string literals blanked, keeping the code
    inside ${…} / %{…} interpolations: what is left can be searched for references."""
    out = []
    n = len(text)

    def code(i, in_interp):
        depth = 0
        while i < n:
            c = text[i]
            if c == "#" or text.startswith("//", i):
                while i < n and text[i] != "\n":
                    i += 1
                continue
            if text.startswith("/*", i):
                j = text.find("*/", i + 2)
                i = n if j < 0 else j + 2
                continue
            if c == '"':
                out.append(" ")
                i = string(i + 1)
                continue
            m = re.match(r"<<-?([A-Za-z_]+)[ \t]*\n", text[i:])
            if m:
                out.append(" ")
                i = heredoc(i + m.end(), m.group(1))
                continue
            if in_interp:
                if c == "{":
                    depth += 1
                elif c == "}":
                    if depth == 0:
                        out.append(" ")
                        return i + 1
                    depth -= 1
            out.append(c)
            i += 1
        return i

    def string(i):
        while i < n:
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == '"':
                return i + 1
            if text.startswith("${", i) or text.startswith("%{", i):
                out.append(" ")
                i = code(i + 2, True)
                continue
            if c == "\n":  # unterminated string: stop at the line end
                return i
            i += 1
        return i

    def heredoc(i, marker):
        while i < n:
            line_end = text.find("\n", i)
            line_end = n if line_end < 0 else line_end
            if text[i:line_end].strip() == marker:
                return line_end
            j = i
            while j < line_end:
                if text.startswith("${", j) or text.startswith("%{", j):
                    out.append(" ")
                    j = code(j + 2, True)
                else:
                    j += 1
            i = line_end + 1
        return i

    code(0, False)
    return "".join(out)


@dataclass
class Module:
    """What one Terraform module (the .tf files of one folder) declares and references."""

    path: Path
    variables: dict = field(default_factory=dict)  # name -> parsed block
    locals: set = field(default_factory=set)
    resources: dict = field(default_factory=dict)  # (type, name) -> parsed block
    data: set = field(default_factory=set)
    modules: dict = field(default_factory=dict)  # name -> parsed block
    outputs: dict = field(default_factory=dict)
    providers: set = field(default_factory=set)  # local names in required_providers
    required_version: bool = False
    code: str = ""


def load_module(folder):
    """Parses every .tf file of a folder (raises on invalid HCL) and collects its declarations."""
    m = Module(Path(folder))
    for tf in sorted(Path(folder).glob("*.tf")):
        text = tf.read_text()
        try:
            doc = hcl2.loads(text)
        except Exception as e:  # the parser's own exception types vary by version
            raise AssertionError(f"{tf}: not valid HCL: {e}") from e
        m.code += code_only(text) + "\n"
        for block in doc.get("variable", []):
            for name in real_keys(block):
                m.variables[unquote(name)] = block[name]
        for block in doc.get("locals", []):
            m.locals.update(unquote(k) for k in real_keys(block))
        for kind, target in (("resource", m.resources), ("data", None)):
            for block in doc.get(kind, []):
                for rtype in real_keys(block):
                    for rname in real_keys(block[rtype]):
                        key = (unquote(rtype), unquote(rname))
                        if target is None:
                            m.data.add(key)
                        else:
                            target[key] = block[rtype][rname]
        for block in doc.get("module", []):
            for name in real_keys(block):
                m.modules[unquote(name)] = block[name]
        for block in doc.get("output", []):
            for name in real_keys(block):
                m.outputs[unquote(name)] = block[name]
        for block in doc.get("terraform", []):
            if "required_version" in block:
                m.required_version = True
            for rp in block.get("required_providers", []):
                m.providers.update(unquote(k) for k in real_keys(rp))
    return m


def references(code, providers):
    """References found in code: var, local, module (+ output), data and resource addresses."""
    refs = {"var": set(), "local": set(), "module": set(), "module_output": set(), "data": set(), "resource": set()}
    for name in re.findall(rf"(?<![\w.])var\.({IDENT})", code):
        refs["var"].add(name)
    for name in re.findall(rf"(?<![\w.])local\.({IDENT})", code):
        refs["local"].add(name)
    for name, out in re.findall(rf"(?<![\w.])module\.({IDENT})(?:\.({IDENT}))?", code):
        refs["module"].add(name)
        if out:
            refs["module_output"].add((name, out))
    for rtype, rname in re.findall(rf"(?<![\w.])data\.([a-z][a-z0-9_]*)\.({IDENT})", code):
        refs["data"].add((rtype, rname))
    for rtype, rname in re.findall(rf"(?<![\w.])([a-z][a-z0-9]*_[a-z0-9_]+)\.({IDENT})", code):
        if rtype.split("_", 1)[0] in providers:
            refs["resource"].add((rtype, rname))
    return refs


def module_problems(m, load=load_module):
    """Everything in one module that `terraform validate` would refuse or that is plainly wrong."""
    problems = []
    refs = references(m.code, m.providers)
    for v in sorted(refs["var"] - set(m.variables)):
        problems.append(f"var.{v} is used but not declared")
    for v in sorted(set(m.variables) - refs["var"]):
        problems.append(f"variable {v!r} is declared but never used")
    for name, block in m.variables.items():
        for attr in ("type", "description"):
            if attr not in block:
                problems.append(f"variable {name!r} has no {attr}")
    for name in sorted(refs["local"] - m.locals):
        problems.append(f"local.{name} is used but not defined")
    for r in sorted(refs["resource"] - set(m.resources)):
        problems.append(f"resource {r[0]}.{r[1]} is referenced but not declared")
    for r in sorted(refs["data"] - m.data):
        problems.append(f"data.{r[0]}.{r[1]} is referenced but not declared")
    for name in sorted(refs["module"] - set(m.modules)):
        problems.append(f"module.{name} is referenced but not declared")
    for name, block in m.outputs.items():
        if "description" not in block:
            problems.append(f"output {name!r} has no description")
    used_prefixes = {t.split("_", 1)[0] for t, _ in m.resources} | {t.split("_", 1)[0] for t, _ in m.data}
    for p in sorted(used_prefixes - m.providers):
        problems.append(f"resources of provider {p!r} but no required_providers entry for it")
    if not m.required_version:
        problems.append("no terraform { required_version } in this module")
    for name, block in m.modules.items():
        source = unquote(block.get("source", ""))
        if not source.startswith("."):
            continue  # a registry module: its inputs are not ours to check
        child = load((m.path / source).resolve())
        args = set(real_keys(block)) - MODULE_META_ARGS
        for a in sorted(args - set(child.variables)):
            problems.append(f"module {name!r} passes {a!r}, which {source} does not declare")
        for v, vblock in sorted(child.variables.items()):
            if "default" not in vblock and v not in args:
                problems.append(f"module {name!r} does not pass required variable {v!r}")
        for mod, out in sorted(refs["module_output"]):
            if mod == name and out not in child.outputs:
                problems.append(f"module.{name}.{out}: {source} has no output {out!r}")
    return problems


# --- what the binary reads ------------------------------------------------------------


def binary_env_names(root):
    """ARCSTREAM_* names the binary reads: `ARCSTREAM_` + each arc-config KEY in upper case
    (NodeConfig::load), plus names spelled out in the binary (clap `env = "…"`) or in
    arc-config outside its tests."""
    lib = (root / "services/arc-config/src/lib.rs").read_text()
    lib_code = lib.split("#[cfg(test)]")[0]
    m = re.search(r"pub const KEYS: &\[&str\] = &\[(.*?)\];", lib_code, re.DOTALL)
    assert m, "services/arc-config/src/lib.rs no longer has `pub const KEYS`; update deploy_lint.binary_env_names"
    keys = re.findall(r'"([a-z0-9_]+)"', m.group(1))
    assert 'format!("ARCSTREAM_{}", key.to_uppercase())' in lib_code, (
        "arc-config no longer derives ARCSTREAM_ + KEY; update deploy_lint.binary_env_names"
    )
    names = {f"ARCSTREAM_{k.upper()}" for k in keys}
    names |= set(re.findall(r'"(ARCSTREAM_[A-Z0-9_]+)"', lib_code))
    for rs in sorted((root / "services/arcstream/src").rglob("*.rs")):
        text = rs.read_text().split("#[cfg(test)]")[0]
        names |= set(re.findall(r'env\s*=\s*"(ARCSTREAM_[A-Z0-9_]+)"', text))
        names |= set(re.findall(r'var(?:_os)?\(\s*"(ARCSTREAM_[A-Z0-9_]+)"', text))
    return keys, names


def http_routes(root):
    """Literal top-level paths routed by the HTTP crates (e.g. "/health")."""
    routes = set()
    for crate in ("arc-dicomweb", "arcstream"):
        for rs in (root / "services" / crate / "src").rglob("*.rs"):
            routes |= set(re.findall(r'\.route\(\s*"(/[a-z]+)"', rs.read_text()))
    return routes


# --- compose, HAProxy, Dockerfile -----------------------------------------------------


def compose_env(service):
    """A compose service's environment as a dict (either of compose's two spellings)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def compose_depends(service):
    """A compose service's depends_on as {service: condition}."""
    dep = service.get("depends_on") or {}
    if isinstance(dep, list):
        return {d: "service_started" for d in dep}
    return {k: (v or {}).get("condition", "service_started") for k, v in dep.items()}


def haproxy_backends(text):
    """{backend: {"servers": {name: (host, port, options)}, "lines": [...]}} of an HAProxy config."""
    backends, current = {}, None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not raw[0].isspace():
            words = line.split()
            current = words[1] if words[0] == "backend" and len(words) > 1 else None
            if current:
                backends[current] = {"servers": {}, "lines": []}
            continue
        if current:
            backends[current]["lines"].append(line)
            words = line.split()
            if words[0] == "server":
                host, _, port = words[2].rpartition(":")
                backends[current]["servers"][words[1]] = (host, port, words[3:])
    return backends


def haproxy_timeout_seconds(text, name):
    """The value of `timeout NAME` in seconds (HAProxy units: ms default, s, m, h, d)."""
    m = re.search(rf"^\s*timeout\s+{name}\s+(\d+)(ms|s|m|h|d)?\s*$", text, re.MULTILINE)
    if not m:
        return None
    unit = {"ms": 0.001, None: 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return int(m.group(1)) * unit


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) pairs of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out
