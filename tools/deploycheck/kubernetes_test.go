package deploycheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKubernetes(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "k8s")
	problems, err := CheckKubernetes(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, "deploy/k8s", problems)

	problems, err = CheckSecretExample(readFileIn(t, dir, "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, "deploy/k8s/secret.example.yaml", problems)
}

// TestKubernetesRulesBite copies deploy/k8s, breaks one rule at a time and expects the check to say so.
func TestKubernetesRulesBite(t *testing.T) {
	src := filepath.Join(repoRoot(t), "deploy", "k8s")
	cases := []struct {
		name, file, old, new, want string
	}{
		{"root", "deployment.yaml", "        runAsUser: 65532\n        runAsGroup", "        runAsUser: 0\n        runAsGroup", "runAsUser: 65532"},
		{"writable root", "deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"escalation", "deployment.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"capability", "deployment.yaml", `drop: ["ALL"]`, `drop: ["ALL"]` + "\n              add: [\"NET_ADMIN\"]", "capabilities"},
		{"no seccomp", "migration-job.yaml", "        seccompProfile:\n          type: RuntimeDefault\n", "", "seccompProfile"},
		{"secret in env", "deployment.yaml", "            - name: JWT_SECRET_KEY_FILE\n              value: /run/secrets/fortress/jwt_secret_key",
			"            - name: JWT_SECRET_KEY\n              valueFrom:\n                secretKeyRef: {name: fortress, key: jwt_secret_key}", "JWT_SECRET_KEY is given in the environment"},
		{"auto migrate", "deployment.yaml", "              value: \"false\"", "              value: \"true\"", "AUTO_MIGRATE"},
		{"liveness on readyz", "deployment.yaml", "          livenessProbe:\n            httpGet:\n              path: /health", "          livenessProbe:\n            httpGet:\n              path: /readyz", "liveness probe path"},
		{"no limits", "migration-job.yaml", "            limits:\n              cpu: 500m\n              memory: 256Mi\n", "", "no cpu limit"},
		{"typo", "deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", "does not match the Kubernetes API type"},
		{"tag", "kustomization.yaml", "    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000", "    newTag: latest", "not pinned by digest"},
		{"open egress", "networkpolicy.yaml", "          port: 6379", "          port: 443", "egress port"},
		{"no default deny", "networkpolicy.yaml", "  podSelector: {}\n", "  podSelector: {matchLabels: {x: y}}\n", "default-deny"},
		{"secret rendered", "kustomization.yaml", "  - networkpolicy.yaml\n", "  - networkpolicy.yaml\n  - secret.example.yaml\n", "Secret/fortress is rendered"},
		{"job command", "migration-job.yaml", `args: ["migrate", "up"]`, `args: ["serve"]`, "migrate up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			entries, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				data := readFileIn(t, src, e.Name())
				if e.Name() == tc.file {
					if !strings.Contains(string(data), tc.old) {
						t.Fatalf("%s has no %q to replace", tc.file, tc.old)
					}
					data = []byte(strings.Replace(string(data), tc.old, tc.new, 1))
				}
				writeFileIn(t, dir, e.Name(), data)
			}
			problems, err := CheckKubernetes(dir)
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, problems, tc.want)
		})
	}
}
