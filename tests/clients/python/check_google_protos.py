"""Checks that talentmesh's trimmed copies of the Google API protos (proto/google) are wire and
name compatible with the real ones that googleapis-common-protos ships, which the generated
clients use instead: every file, message, field, enum value and extension of a copy must exist
in the real file under the same name with the same number, type and label (the real files may
hold more). Run by dev/clients.sh with the clients' venv:

    python check_google_protos.py PROTO_DIR

Exits 1 and names every difference when there is one.
"""

import os
import sys
import tempfile

import google.api  # noqa: F401  (the real protos ship next to the generated modules)
from google.protobuf import descriptor_pb2
from grpc_tools import protoc


def descriptor_set(include_dirs, files):
    """The FileDescriptorSet of `files` (paths relative to one of `include_dirs`)."""
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.binpb")
        args = ["protoc", f"--descriptor_set_out={out}"]
        args += [f"-I{d}" for d in [*include_dirs, well_known]]
        if protoc.main(args + list(files)) != 0:
            sys.exit(f"protoc failed on {files} in {include_dirs}")
        with open(out, "rb") as f:
            return descriptor_pb2.FileDescriptorSet.FromString(f.read())


def shape(field):
    """What must agree for a field or extension to mean the same on the wire and in JSON."""
    return (field.number, field.type, field.label, field.type_name, field.extendee, field.json_name)


def walk_messages(prefix, messages, out):
    for m in messages:
        name = f"{prefix}.{m.name}"
        out[name] = m
        walk_messages(name, m.nested_type, out)


def walk_enums(prefix, messages, enums, out):
    for e in enums:
        out[f"{prefix}.{e.name}"] = e
    for m in messages:
        walk_enums(f"{prefix}.{m.name}", m.nested_type, m.enum_type, out)


def index(fd):
    messages, enums = {}, {}
    walk_messages(fd.package, fd.message_type, messages)
    walk_enums(fd.package, fd.message_type, fd.enum_type, enums)
    extensions = {f"{fd.package}.{x.name}": x for x in fd.extension}
    return messages, enums, extensions


def compare(copy, real):
    """The differences between a trimmed file and the real file of the same path."""
    problems = []
    if copy.package != real.package:
        problems.append(f"package {copy.package} != {real.package}")
    # Go code generated from talentmesh's protos imports these files by their go_package.
    if copy.options.go_package != real.options.go_package:
        problems.append(f"go_package {copy.options.go_package} != {real.options.go_package}")
    cm, ce, cx = index(copy)
    rm, re_, rx = index(real)
    for name, m in cm.items():
        if name not in rm:
            problems.append(f"message {name} is not in the real file")
            continue
        real_fields = {f.name: f for f in rm[name].field}
        for f in m.field:
            r = real_fields.get(f.name)
            if r is None:
                problems.append(f"field {name}.{f.name} is not in the real message")
            elif shape(f) != shape(r):
                problems.append(f"field {name}.{f.name}: {shape(f)} != {shape(r)}")
    for name, e in ce.items():
        if name not in re_:
            problems.append(f"enum {name} is not in the real file")
            continue
        real_values = {v.name: v.number for v in re_[name].value}
        for v in e.value:
            if real_values.get(v.name) != v.number:
                problems.append(f"enum value {name}.{v.name} = {v.number}: real {real_values.get(v.name)}")
    for name, x in cx.items():
        r = rx.get(name)
        if r is None:
            problems.append(f"extension {name} is not in the real file")
        elif shape(x) != shape(r):
            problems.append(f"extension {name}: {shape(x)} != {shape(r)}")
    return problems


def main():
    proto_dir = sys.argv[1]
    files = sorted(
        os.path.relpath(os.path.join(root, f), proto_dir)
        for root, _, names in os.walk(os.path.join(proto_dir, "google"))
        for f in names
        if f.endswith(".proto")
    )
    real_root = os.path.dirname(os.path.dirname(google.api.__path__[0]))
    copies = {fd.name: fd for fd in descriptor_set([proto_dir], files).file}
    reals = {fd.name: fd for fd in descriptor_set([real_root], files).file}
    problems = []
    for name in files:
        problems += [f"{name}: {p}" for p in compare(copies[name], reals[name])]
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(f"{len(problems)} difference(s) between proto/google and googleapis-common-protos")
    print(f"proto/google: {len(files)} files compatible with googleapis-common-protos")


if __name__ == "__main__":
    main()
