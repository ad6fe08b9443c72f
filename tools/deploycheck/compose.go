package deploycheck

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// The service names the rules refer to: the database, the one-shot migration and the API.
const (
	serviceDB      = "db"
	serviceMigrate = "migrate"
	serviceAPI     = "api"
)

// allowedCapAdd is the only capability a service may add back after dropping ALL: binding ports below
// 1024 (Caddy in the tls profile).
var allowedCapAdd = []string{"NET_BIND_SERVICE"}

// requiredProfiles maps each optional profile to image names one of its services must run.
var requiredProfiles = map[string][]string{
	"tls":        {"caddy"},
	"redis":      {"redis"},
	"monitoring": {"prom/prometheus", "grafana/grafana"},
}

// LoadCompose loads a compose file with the compose-spec loader, as `docker compose` does, with the
// given profiles active ("*" for all). Interpolation sees an empty environment, neither the caller's nor
// a .env file, so the file is checked on its own defaults.
func LoadCompose(ctx context.Context, file string, profiles ...string) (*types.Project, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: types.Mapping{},
	}
	return loader.LoadWithContext(ctx, details, loader.WithProfiles(profiles), loader.WithDiscardEnvFiles)
}

// CheckCompose loads the compose file with every profile active and returns every violation of the
// compose rules: images pinned by digest (or built from the checked Dockerfile); the db/migrate/api
// start-up order gated on health and on the migration's success; secrets only through compose secrets
// read via *_FILE; read_only, cap_drop ALL and no-new-privileges everywhere; ports bound to 127.0.0.1;
// the tls, redis and monitoring profiles present and nothing but db, migrate and api started without
// them; the monitoring profile's services as explicit non-root users, Grafana's admin password from a
// secret file and no anonymous access, and the api's metrics listener enabled but never published.
// Bind-mounted files must exist next to the compose file. An error means the file does not load.
func CheckCompose(ctx context.Context, file string) ([]string, error) {
	all, err := LoadCompose(ctx, file, "*")
	if err != nil {
		return nil, fmt.Errorf("load %s with every profile: %w", file, err)
	}
	core, err := LoadCompose(ctx, file)
	if err != nil {
		return nil, fmt.Errorf("load %s without profiles: %w", file, err)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	names := all.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		checkService(all, all.Services[name], add)
	}
	checkSecrets(all, add)
	checkStartupOrder(all, add)
	checkProfiles(all, core, add)
	checkMonitoringProfile(all, add)
	return problems, nil
}

// checkService applies the rules every service shares.
func checkService(p *types.Project, s types.ServiceConfig, add func(string, ...any)) {
	if s.Build != nil {
		if s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile" {
			add("service %s builds %s; only the checked Dockerfile is allowed", s.Name, s.Build.Dockerfile)
		}
	} else if !digestRef.MatchString(s.Image) {
		add("service %s: image %q is not pinned by digest", s.Name, s.Image)
	}
	if !s.ReadOnly {
		add("service %s: read_only must be true (writable paths go to volumes or tmpfs)", s.Name)
	}
	if !slices.Contains(s.CapDrop, "ALL") {
		add("service %s: cap_drop must contain ALL", s.Name)
	}
	for _, c := range s.CapAdd {
		if !slices.Contains(allowedCapAdd, strings.TrimPrefix(strings.ToUpper(c), "CAP_")) {
			add("service %s: cap_add %s is not in the allowed list %v", s.Name, c, allowedCapAdd)
		}
	}
	if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") && !slices.Contains(s.SecurityOpt, "no-new-privileges") {
		add("service %s: security_opt must contain no-new-privileges:true", s.Name)
	}
	if s.Privileged {
		add("service %s: privileged", s.Name)
	}
	if s.NetworkMode == "host" || s.Pid == "host" || s.Ipc == "host" {
		add("service %s: shares a host namespace", s.Name)
	}
	if u, _, _ := strings.Cut(s.User, ":"); u == "0" || u == "root" {
		add("service %s: user %s is root", s.Name, s.User)
	}
	for _, port := range s.Ports {
		if port.HostIP != "127.0.0.1" {
			add("service %s: port %s:%d is published on %q; bind it to 127.0.0.1", s.Name, port.Published, port.Target, port.HostIP)
		}
	}
	for _, v := range s.Volumes {
		checkVolume(p, s, v, add)
	}
	attached := map[string]bool{}
	for _, sec := range s.Secrets {
		attached[secretTarget(sec)] = true
	}
	envNames := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		envNames = append(envNames, k)
	}
	sort.Strings(envNames)
	for _, k := range envNames {
		v := s.Environment[k]
		if v == nil || *v == "" {
			continue
		}
		if looksSecret(k) {
			add("service %s: environment %s holds a secret-looking value; mount it with secrets: and set %s_FILE", s.Name, k, k)
		}
		if strings.HasSuffix(k, "_FILE") && strings.HasPrefix(*v, "/run/secrets/") && !attached[*v] {
			add("service %s: %s=%s names a secret the service does not mount", s.Name, k, *v)
		}
	}
	for _, ef := range s.EnvFiles {
		add("service %s: env_file %s may carry secrets into the environment; use secrets: and *_FILE", s.Name, ef.Path)
	}
}

// checkVolume refuses the Docker socket and host paths outside the repository, requires bind-mounted
// files to exist (a missing file becomes an empty directory at run time) and to be read-only.
func checkVolume(p *types.Project, s types.ServiceConfig, v types.ServiceVolumeConfig, add func(string, ...any)) {
	switch v.Type {
	case types.VolumeTypeBind:
		rel, err := filepath.Rel(p.WorkingDir, v.Source)
		if err != nil || strings.HasPrefix(rel, "..") || strings.Contains(v.Source, "docker.sock") {
			add("service %s: bind mount %s reaches outside the project", s.Name, v.Source)
			return
		}
		if _, err := os.Stat(v.Source); err != nil {
			add("service %s: bind mount source %s does not exist", s.Name, rel)
		}
		if !v.ReadOnly {
			add("service %s: bind mount %s must be :ro", s.Name, rel)
		}
	case types.VolumeTypeVolume:
		if _, ok := p.Volumes[v.Source]; !ok {
			add("service %s: volume %q is not a declared named volume", s.Name, v.Source)
		}
	}
}

// secretTarget is where a service secret appears in the container.
func secretTarget(sec types.ServiceSecretConfig) string {
	switch {
	case sec.Target == "":
		return "/run/secrets/" + sec.Source
	case path.IsAbs(sec.Target):
		return sec.Target
	default:
		return "/run/secrets/" + sec.Target
	}
}

// checkSecrets requires every secret to come from a file under ./secrets/, which git and .dockerignore
// keep out of commits and images, rather than from the environment or inline content.
func checkSecrets(p *types.Project, add func(string, ...any)) {
	dir := filepath.Join(p.WorkingDir, "secrets") + string(filepath.Separator)
	for name, sec := range p.Secrets {
		switch {
		case sec.Environment != "" || sec.Content != "":
			add("secret %s comes from the environment or inline content; use a file under ./secrets/", name)
		case bool(sec.External):
		case !strings.HasPrefix(sec.File, dir):
			add("secret %s: file %s is not under ./secrets/", name, sec.File)
		}
	}
}

// checkStartupOrder enforces db healthy -> migrate completed -> api, and that the API itself is probed,
// migrates nothing at start-up and reads its secrets from files.
func checkStartupOrder(p *types.Project, add func(string, ...any)) {
	db, okDB := p.Services[serviceDB]
	mig, okMig := p.Services[serviceMigrate]
	api, okAPI := p.Services[serviceAPI]
	if !okDB || !okMig || !okAPI {
		add("services %s, %s and %s must all exist", serviceDB, serviceMigrate, serviceAPI)
		return
	}

	if !strings.HasPrefix(db.Image, "postgres:") {
		add("service %s: image %q is not PostgreSQL", serviceDB, db.Image)
	}
	if db.HealthCheck == nil || db.HealthCheck.Disable || !slices.Contains(db.HealthCheck.Test, "pg_isready") {
		add("service %s: needs a healthcheck running pg_isready", serviceDB)
	}
	hasData := false
	for _, v := range db.Volumes {
		if v.Type == types.VolumeTypeVolume && strings.HasPrefix(v.Target, "/var/lib/postgresql") {
			hasData = true
		}
	}
	if !hasData {
		add("service %s: the data directory must be a named volume", serviceDB)
	}
	if len(db.Tmpfs) == 0 {
		add("service %s: needs tmpfs for its socket directory under read_only", serviceDB)
	}
	for net := range db.Networks {
		if n, ok := p.Networks[net]; !ok || !n.Internal {
			add("service %s: network %s is not internal; the database needs no route in or out", serviceDB, net)
		}
	}
	if len(db.Ports) > 0 {
		add("service %s publishes ports; nothing outside compose needs the database", serviceDB)
	}

	if !slices.Equal([]string(mig.Command), []string{"migrate", "up"}) {
		add("service %s: command %q, want [migrate up]", serviceMigrate, mig.Command)
	}
	wantDependency(mig, serviceDB, types.ServiceConditionHealthy, add)
	if mig.Restart != "" && mig.Restart != types.RestartPolicyNo && !strings.HasPrefix(mig.Restart, types.RestartPolicyOnFailure) {
		add("service %s: restart %q reruns a completed one-shot job", serviceMigrate, mig.Restart)
	}

	wantDependency(api, serviceDB, types.ServiceConditionHealthy, add)
	wantDependency(api, serviceMigrate, types.ServiceConditionCompletedSuccessfully, add)
	if api.HealthCheck == nil || api.HealthCheck.Disable || !slices.Contains(api.HealthCheck.Test, "healthcheck") {
		add("service %s: needs a healthcheck running `fortress healthcheck`", serviceAPI)
	}
	for k, want := range map[string]string{
		"FORTRESS_ENV":        "production",
		"AUTO_MIGRATE":        "false",
		"JWT_SECRET_KEY_FILE": "/run/secrets/",
		"DATABASE_URL_FILE":   "/run/secrets/",
	} {
		if v := api.Environment[k]; v == nil || !strings.HasPrefix(*v, want) {
			add("service %s: environment %s must be %s...", serviceAPI, k, want)
		}
	}
	if !slices.Contains(api.Tmpfs, "/tmp") {
		add("service %s: needs a tmpfs on /tmp under read_only", serviceAPI)
	}
}

// wantDependency requires s to wait for dep in the given condition.
func wantDependency(s types.ServiceConfig, dep, condition string, add func(string, ...any)) {
	if d, ok := s.DependsOn[dep]; !ok || d.Condition != condition {
		add("service %s: depends_on %s must have condition %s", s.Name, dep, condition)
	}
}

// checkProfiles requires the optional profiles and that a plain `docker compose up` starts only the core.
func checkProfiles(all, core *types.Project, add func(string, ...any)) {
	for _, profile := range slices.Sorted(maps.Keys(requiredProfiles)) {
		for _, image := range requiredProfiles[profile] {
			found := false
			for _, s := range all.Services {
				if slices.Contains(s.Profiles, profile) && strings.HasPrefix(s.Image, image+":") {
					found = true
				}
			}
			if !found {
				add("profile %s: no service runs %s", profile, image)
			}
		}
	}
	got := core.ServiceNames()
	sort.Strings(got)
	if want := []string{serviceAPI, serviceDB, serviceMigrate}; !slices.Equal(got, want) {
		add("without profiles compose starts %v, want %v", got, want)
	}
}

// numericNonRoot is a user:group of numbers, neither of them root's 0.
var numericNonRoot = regexp.MustCompile(`^[1-9][0-9]*:[1-9][0-9]*$`)

// checkMonitoringProfile holds the monitoring profile to what the images alone would not guarantee: both
// run as an explicit non-root user and group, Grafana takes its admin password from a secret file, admits
// no anonymous users, and reaches only Prometheus (not the database's network); the api runs its metrics
// listener for Prometheus to scrape, and never publishes it.
func checkMonitoringProfile(p *types.Project, add func(string, ...any)) {
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if !slices.Contains(s.Profiles, "monitoring") {
			continue
		}
		if !numericNonRoot.MatchString(s.User) {
			add("service %s: user %q; the monitoring profile runs as an explicit non-root uid:gid (not group 0)", s.Name, s.User)
		}
		if !strings.HasPrefix(s.Image, "grafana/grafana:") {
			continue
		}
		if v := s.Environment["GF_SECURITY_ADMIN_PASSWORD__FILE"]; v == nil || !strings.HasPrefix(*v, "/run/secrets/") {
			add("service %s: GF_SECURITY_ADMIN_PASSWORD__FILE must name a compose secret under /run/secrets/", s.Name)
		}
		if _, ok := s.Environment["GF_SECURITY_ADMIN_PASSWORD"]; ok {
			add("service %s: GF_SECURITY_ADMIN_PASSWORD puts the admin password in the file; use GF_SECURITY_ADMIN_PASSWORD__FILE", s.Name)
		}
		if v := s.Environment["GF_AUTH_ANONYMOUS_ENABLED"]; v == nil || *v != "false" {
			add("service %s: GF_AUTH_ANONYMOUS_ENABLED must be \"false\": anonymous users see every dashboard", s.Name)
		}
		if _, ok := s.Networks["backend"]; ok {
			add("service %s: on the backend network; Grafana needs Prometheus only, not the database's network", s.Name)
		}
	}
	api, ok := p.Services[serviceAPI]
	if !ok {
		return
	}
	port, err := MetricsPort(p)
	if err != nil {
		add("%v (the monitoring profile scrapes it)", err)
		return
	}
	for _, pc := range api.Ports {
		if int(pc.Target) == port {
			add("service %s: the metrics listener (%s, port %d) is published; it must stay on the internal network", serviceAPI, metricsAddr, port)
		}
	}
	if v := api.Environment["FORTRESS_ADDR"]; v != nil && strings.HasSuffix(*v, ":"+strconv.Itoa(port)) {
		add("service %s: %s and FORTRESS_ADDR share port %d", serviceAPI, metricsAddr, port)
	}
}
