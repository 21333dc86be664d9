// Command client is a talentmesh client in Go over gRPC, with stubs generated from the contracts
// by dev/clients.sh (buf.gen.yaml) into the module github.com/talentmesh/talentmesh/gen/go. It
// registers an employer, logs in, creates a company, is refused a job whose salary range is
// upside down (the refusal's google.rpc.BadRequest names the field), posts and publishes a job,
// and searches until it finds it. Each step prints one key=value line; the exit code is 0 only
// when the job was found.
//
//	client -ca roots.pem -cert leaf.pem -key leaf.key   # mesh with Connect mutual TLS
//	client -insecure                                    # TALENTMESH_MESH_TLS=off mesh
//
// Addresses default to the dev mesh (./dev/up): identity 127.0.0.1:50051, company :50052,
// job :50053; flags or TALENTMESH_CLIENT_* variables move them (see -help).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	companyv1 "github.com/talentmesh/talentmesh/gen/go/talentmesh/company/v1"
	identityv1 "github.com/talentmesh/talentmesh/gen/go/talentmesh/identity/v1"
	jobv1 "github.com/talentmesh/talentmesh/gen/go/talentmesh/job/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	// How long a published job may take to reach the search index.
	searchDeadline = 30 * time.Second
	// Per call.
	callTimeout = 10 * time.Second
)

type endpoint struct{ addr, service string }

type options struct {
	identity, company, job endpoint
	ca, cert, key          string
	insecure               bool
	email, password        string
}

func env(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}

func parseFlags() options {
	var o options
	for _, s := range []struct {
		name string
		port int
		into *endpoint
	}{{"identity", 50051, &o.identity}, {"company", 50052, &o.company}, {"job", 50053, &o.job}} {
		v := "TALENTMESH_CLIENT_" + strings.ToUpper(s.name)
		flag.StringVar(&s.into.addr, s.name, env(v+"_ADDR", fmt.Sprintf("127.0.0.1:%d", s.port)),
			"host:port of the "+s.name+" service's gRPC port ($"+v+"_ADDR)")
		flag.StringVar(&s.into.service, s.name+"-service", env(v+"_SERVICE", s.name),
			"its name in Consul, which its certificate must carry ($"+v+"_SERVICE)")
	}
	flag.StringVar(&o.ca, "ca", env("TALENTMESH_CLIENT_CA", ""), "Consul CA roots, PEM")
	flag.StringVar(&o.cert, "cert", env("TALENTMESH_CLIENT_CERT", ""), "this client's Connect leaf, PEM")
	flag.StringVar(&o.key, "key", env("TALENTMESH_CLIENT_KEY", ""), "the leaf's private key, PEM")
	flag.BoolVar(&o.insecure, "insecure", false, "plaintext, for a mesh with TALENTMESH_MESH_TLS=off")
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	flag.StringVar(&o.email, "email", "employer-"+hex.EncodeToString(suffix)+"@example.com", "account to register")
	flag.StringVar(&o.password, "password", "correct horse 42", "its password")
	flag.Parse()
	if !o.insecure && (o.ca == "" || o.cert == "" || o.key == "") {
		fmt.Fprintln(os.Stderr, "give -ca, -cert and -key (Connect mutual TLS), or -insecure")
		os.Exit(2)
	}
	return o
}

// spiffeService is the service a Connect SPIFFE URI
// (spiffe://<trust-domain>/ns/<ns>/dc/<dc>/svc/<service>) names, or "" for any other URI.
func spiffeService(scheme, path string) string {
	if scheme != "spiffe" {
		return ""
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts)%2 != 0 {
		return ""
	}
	for i := 0; i < len(parts); i += 2 {
		if parts[i] == "svc" {
			return parts[i+1]
		}
	}
	return ""
}

// connectTLS is the mutual TLS of a Consul Connect service named service: the client's leaf as
// its certificate, and the server accepted only if its certificate chains to the CA roots and
// names service in its SPIFFE URI. Connect leaves carry no DNS name, so Go's host-name check is
// replaced by that URI check (as SPIFFE's own Go library does).
func connectTLS(o options, service string) (credentials.TransportCredentials, error) {
	leaf, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate: %w", err)
	}
	pem, err := os.ReadFile(o.ca)
	if err != nil {
		return nil, fmt.Errorf("CA roots: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA roots: no certificate in %s", o.ca)
	}
	return credentials.NewTLS(&tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{leaf},
		// The standard check wants a DNS name; VerifyConnection does the whole check instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			intermediates := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				intermediates.AddCert(c)
			}
			server := cs.PeerCertificates[0]
			if _, err := server.Verify(x509.VerifyOptions{
				Roots:         roots,
				Intermediates: intermediates,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}); err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			for _, uri := range server.URIs {
				if spiffeService(uri.Scheme, uri.Path) == service {
					return nil
				}
			}
			return fmt.Errorf("the server is %v, not the service %s", server.URIs, service)
		},
	}), nil
}

func dial(o options, e endpoint) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if !o.insecure {
		var err error
		if creds, err = connectTLS(o, e.service); err != nil {
			return nil, err
		}
	}
	return grpc.NewClient(e.addr, grpc.WithTransportCredentials(creds))
}

// badRequestFields are the fields named by the google.rpc.BadRequest detail of a failed call.
func badRequestFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if bad, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range bad.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func run(o options) error {
	conns := map[string]*grpc.ClientConn{}
	for name, e := range map[string]endpoint{"identity": o.identity, "company": o.company, "job": o.job} {
		conn, err := dial(o, e)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer conn.Close()
		conns[name] = conn
	}
	identity := identityv1.NewIdentityServiceClient(conns["identity"])
	companies := companyv1.NewCompanyServiceClient(conns["company"])
	jobs := jobv1.NewJobServiceClient(conns["job"])
	call := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), callTimeout)
	}

	ctx, cancel := call()
	defer cancel()
	registered, err := identity.Register(ctx, &identityv1.RegisterRequest{
		Email: o.email, Password: o.password, Role: identityv1.Role_ROLE_EMPLOYER,
	})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	fmt.Printf("user=%s\n", registered.GetUser().GetName())
	login, err := identity.Login(ctx, &identityv1.LoginRequest{Email: o.email, Password: o.password})
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	authed := func() (context.Context, context.CancelFunc) {
		ctx, cancel := call()
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+login.GetTokens().GetAccessToken()), cancel
	}

	ctx, cancel = authed()
	defer cancel()
	created, err := companies.CreateCompany(ctx, &companyv1.CreateCompanyRequest{Company: &companyv1.Company{
		DisplayName: "星河科技", Industry: "software", CityCode: "440300",
	}})
	if err != nil {
		return fmt.Errorf("create company: %w", err)
	}
	company := created.GetCompany().GetName()
	fmt.Printf("company=%s\n", company)

	posting := &jobv1.Job{
		Title: "高级Rust后端工程师", Description: "高并发服务", RequiredSkills: []string{"Rust", "PostgreSQL"},
		SalaryMin: 30000, SalaryMax: 50000, CityCode: "440300",
		RecruitType: jobv1.RecruitType_RECRUIT_TYPE_SOCIAL, Headcount: 1,
	}
	upsideDown := proto.Clone(posting).(*jobv1.Job)
	upsideDown.SalaryMin = 60000
	_, err = jobs.CreateJob(ctx, &jobv1.CreateJobRequest{Parent: company, Job: upsideDown})
	switch status.Code(err) {
	case codes.OK:
		fmt.Println("rejected=none")
	case codes.InvalidArgument:
		fmt.Printf("rejected=%s\n", strings.Join(badRequestFields(err), ","))
	default:
		return fmt.Errorf("create job with an upside-down salary range: %w", err)
	}
	createdJob, err := jobs.CreateJob(ctx, &jobv1.CreateJobRequest{Parent: company, Job: posting})
	if err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	job := createdJob.GetJob().GetName()
	fmt.Printf("job=%s\n", job)
	published, err := jobs.PublishJob(ctx, &jobv1.PublishJobRequest{Name: job})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	fmt.Printf("state=%s\n", published.GetJob().GetState())

	// "Rust工程师" within the new company: the index follows the job service's writes.
	var found []string
	for deadline := time.Now().Add(searchDeadline); ; time.Sleep(200 * time.Millisecond) {
		ctx, cancel := authed()
		res, err := jobs.SearchJobs(ctx, &jobv1.SearchJobsRequest{Query: "Rust工程师", Company: company})
		cancel()
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		found = found[:0]
		for _, j := range res.GetJobs() {
			found = append(found, j.GetName())
		}
		if len(found) > 0 || time.Now().After(deadline) {
			break
		}
	}
	fmt.Printf("found=%s\n", strings.Join(found, ","))
	for _, name := range found {
		if name == job {
			return nil
		}
	}
	return errors.New("the published job was not found")
}

func main() {
	if err := run(parseFlags()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
