"""A talentmesh client in Python over gRPC, with stubs generated from the contracts by
`dev/clients.sh` (buf.gen.yaml). It registers an employer, logs in, creates a company, is refused
a job whose salary range is upside down (the refusal's google.rpc.BadRequest names the field),
posts and publishes a job, and searches until it finds it. Each step prints one `key=value`
line; the exit code is 0 only when the job was found.

    PYTHONPATH=tests/clients/gen/python python tests/clients/python/client.py \\
        --ca roots.pem --cert leaf.pem --key leaf.key          # mesh with Connect mutual TLS
    ... client.py --insecure                                    # TALENTMESH_MESH_TLS=off mesh

Addresses default to the dev mesh (`./dev/up`): identity 127.0.0.1:50051, company :50052,
job :50053; flags or TALENTMESH_CLIENT_* variables move them (see --help).
"""

import argparse
import contextlib
import os
import secrets
import ssl
import sys
import time

import grpc
from google.rpc import error_details_pb2, status_pb2
from talentmesh.company.v1 import company_pb2, company_pb2_grpc
from talentmesh.identity.v1 import identity_pb2, identity_pb2_grpc
from talentmesh.job.v1 import job_pb2, job_pb2_grpc

from connect_tls import connect_channel

# How long a published job may take to reach the search index.
SEARCH_DEADLINE_SECONDS = 30
# Per call.
CALL_TIMEOUT_SECONDS = 10


def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    for service, port in [("identity", 50051), ("company", 50052), ("job", 50053)]:
        var = f"TALENTMESH_CLIENT_{service.upper()}"
        p.add_argument(
            f"--{service}",
            default=env(f"{var}_ADDR", f"127.0.0.1:{port}"),
            help=f"host:port of the {service} service's gRPC port (${var}_ADDR)",
        )
        p.add_argument(
            f"--{service}-service",
            default=env(f"{var}_SERVICE", service),
            help=f"its name in Consul, which its certificate must carry (${var}_SERVICE)",
        )
    p.add_argument("--ca", default=env("TALENTMESH_CLIENT_CA"), help="Consul CA roots, PEM")
    p.add_argument("--cert", default=env("TALENTMESH_CLIENT_CERT"), help="this client's Connect leaf, PEM")
    p.add_argument("--key", default=env("TALENTMESH_CLIENT_KEY"), help="the leaf's private key, PEM")
    p.add_argument("--insecure", action="store_true", help="plaintext, for a mesh with TALENTMESH_MESH_TLS=off")
    p.add_argument("--email", default=f"employer-{secrets.token_hex(6)}@example.com")
    p.add_argument("--password", default="correct horse 42")
    args = p.parse_args()
    if not args.insecure:
        if not (args.ca and args.cert and args.key):
            p.error("give --ca, --cert and --key (Connect mutual TLS), or --insecure")
        for option in ("ca", "cert", "key"):
            path = getattr(args, option)
            if not os.path.isfile(path):
                fail(f"--{option} {path}: no such file")
    return args


def fail(message):
    """Ends the run with one line on stderr, `client.py: <message>`, and exit code 2."""
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(2)


def channel(args, service):
    address = getattr(args, service)
    if args.insecure:
        return grpc.insecure_channel(address)
    name = getattr(args, f"{service}_service")
    return connect_channel(address, name, ca=args.ca, cert=args.cert, key=args.key)


def bad_request_fields(error):
    """The fields named by the google.rpc.BadRequest detail of a failed call."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            fields = []
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    fields += [v.field for v in bad.field_violations]
            return fields
    return []


def main():
    args = parse_args()
    # The channels (and their TLS relays) are closed on every way out, a failed call included,
    # so the process ends without the relays' connections cut mid-way. `close`, not the
    # channel's `with`: grpc's `__exit__` would skip the relay that `connect_channel` adds.
    with contextlib.ExitStack() as stack:
        channels = []
        for service in ("identity", "company", "job"):
            try:
                c = channel(args, service)
            except (OSError, ssl.SSLError) as e:
                # A certificate or key that is not PEM, a key that does not match the leaf.
                fail(f"cannot use --ca {args.ca}, --cert {args.cert}, --key {args.key}: {e}")
            stack.callback(c.close)
            channels.append(c)
        return run(args, *channels)


def run(args, identity_channel, company_channel, job_channel):
    """The steps, printing one `key=value` line each; 0 when the job was found."""
    identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
    companies = company_pb2_grpc.CompanyServiceStub(company_channel)
    jobs = job_pb2_grpc.JobServiceStub(job_channel)
    t = CALL_TIMEOUT_SECONDS

    user = identity.Register(
        identity_pb2.RegisterRequest(email=args.email, password=args.password, role=identity_pb2.ROLE_EMPLOYER),
        timeout=t,
    ).user
    print(f"user={user.name}", flush=True)
    login = identity.Login(identity_pb2.LoginRequest(email=args.email, password=args.password), timeout=t)
    auth = [("authorization", f"Bearer {login.tokens.access_token}")]

    company = companies.CreateCompany(
        company_pb2.CreateCompanyRequest(
            company=company_pb2.Company(display_name="星河科技", industry="software", city_code="440300")
        ),
        metadata=auth,
        timeout=t,
    ).company
    print(f"company={company.name}", flush=True)

    posting = job_pb2.Job(
        title="高级Rust后端工程师",
        description="高并发服务",
        required_skills=["Rust", "PostgreSQL"],
        salary_min=30000,
        salary_max=50000,
        city_code="440300",
        recruit_type=job_pb2.RECRUIT_TYPE_SOCIAL,
        headcount=1,
    )
    upside_down = job_pb2.Job()
    upside_down.CopyFrom(posting)
    upside_down.salary_min = 60000
    try:
        jobs.CreateJob(job_pb2.CreateJobRequest(parent=company.name, job=upside_down), metadata=auth, timeout=t)
        print("rejected=none", flush=True)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        print(f"rejected={','.join(bad_request_fields(e))}", flush=True)

    job = jobs.CreateJob(job_pb2.CreateJobRequest(parent=company.name, job=posting), metadata=auth, timeout=t).job
    print(f"job={job.name}", flush=True)
    published = jobs.PublishJob(job_pb2.PublishJobRequest(name=job.name), metadata=auth, timeout=t).job
    print(f"state={job_pb2.JobState.Name(published.state)}", flush=True)

    # "Rust工程师" within the new company: the index follows the job service's writes.
    deadline = time.monotonic() + SEARCH_DEADLINE_SECONDS
    while True:
        found = jobs.SearchJobs(
            job_pb2.SearchJobsRequest(query="Rust工程师", company=company.name), metadata=auth, timeout=t
        ).jobs
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(f"found={','.join(j.name for j in found)}", flush=True)
    return 0 if any(j.name == job.name for j in found) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as e:
        sys.exit(f"error: {e.code().name}: {e.details()}")
