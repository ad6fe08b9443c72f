package deploycheck

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The uid of the image's USER, which the pods must run as.
const nonRootUID = 65532

// newTyped returns an empty object of the API type for kind, so that each manifest is decoded strictly
// into the real Kubernetes type: a misspelt or misplaced field is an error here rather than a field the
// API server silently drops.
func newTyped(kind string) any {
	switch kind {
	case "Namespace":
		return &corev1.Namespace{}
	case "ServiceAccount":
		return &corev1.ServiceAccount{}
	case "ConfigMap":
		return &corev1.ConfigMap{}
	case "Secret":
		return &corev1.Secret{}
	case "Service":
		return &corev1.Service{}
	case "Deployment":
		return &appsv1.Deployment{}
	case "Job":
		return &batchv1.Job{}
	case "Ingress":
		return &networkingv1.Ingress{}
	case "NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	}
	return nil
}

// decodeStrict decodes a YAML manifest into obj as the API server would with strict field validation:
// field names are case-sensitive, and unknown or duplicate fields are errors.
func decodeStrict(y []byte, obj any) error {
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// CheckKubernetes renders the kustomization in dir, decodes every object strictly into its Kubernetes
// API type and returns every violation of the manifest rules: images pinned by digest; pods non-root as
// uid 65532 with RuntimeDefault seccomp, no service-account token, read-only root filesystem, no
// privilege escalation, all capabilities dropped, requests and limits; secrets only as mounted files
// read through *_FILE; liveness on /health and readiness on /readyz; migrations as a Job running
// "migrate up"; a Service, an HPA, a PDB, and NetworkPolicies that deny by default, admit only the
// ingress controller and let out only PostgreSQL, Redis and DNS. An error means it does not render.
func CheckKubernetes(dir string) ([]string, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	kinds := map[string]int{}
	var policies []*networkingv1.NetworkPolicy
	for _, r := range m.Resources() {
		kind, name := r.GetKind(), r.GetName()
		kinds[kind]++
		obj := newTyped(kind)
		if obj == nil {
			add("%s/%s: no schema check for this kind; add it to newTyped", kind, name)
			continue
		}
		y, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		if err := decodeStrict(y, obj); err != nil {
			add("%s/%s does not match the Kubernetes API type: %v", kind, name, err)
			continue
		}
		switch o := obj.(type) {
		case *corev1.Secret:
			add("Secret/%s is rendered by the kustomization; secrets must not live in git (see secret.example.yaml)", name)
		case *corev1.Namespace:
			if o.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				add("Namespace/%s must enforce the restricted Pod Security Standard", name)
			}
		case *appsv1.Deployment:
			checkPod("Deployment/"+name, &o.Spec.Template.Spec, add)
			checkAPIContainer("Deployment/"+name, o.Spec.Template.Spec.Containers, add)
		case *batchv1.Job:
			checkPod("Job/"+name, &o.Spec.Template.Spec, add)
			if c := o.Spec.Template.Spec.Containers; len(c) != 1 || !slices.Equal(c[0].Args, []string{"migrate", "up"}) {
				add("Job/%s must run one container with args [migrate up]", name)
			}
		case *networkingv1.NetworkPolicy:
			policies = append(policies, o)
		}
	}
	for _, kind := range []string{"Namespace", "Deployment", "Job", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} {
		if kinds[kind] == 0 {
			add("no %s in the kustomization", kind)
		}
	}
	checkNetworkPolicies(policies, add)
	return problems, nil
}

// checkPod applies the pod-level rules shared by the Deployment and the Job.
func checkPod(what string, spec *corev1.PodSpec, add func(string, ...any)) {
	sc := spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != nonRootUID {
		add("%s: pod securityContext needs runAsNonRoot: true and runAsUser: %d", what, nonRootUID)
	}
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		add("%s: pod securityContext needs seccompProfile RuntimeDefault", what)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		add("%s: automountServiceAccountToken must be false (Fortress never calls the Kubernetes API)", what)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		add("%s: shares a host namespace", what)
	}
	secretVolumes := map[string]bool{}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = true
		}
		if v.HostPath != nil {
			add("%s: hostPath volume %s", what, v.Name)
		}
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		where := what + " container " + c.Name
		if !strings.Contains(c.Image, "@sha256:") {
			add("%s: image %q is not pinned by digest", where, c.Image)
		}
		if csc := c.SecurityContext; csc == nil {
			add("%s: no securityContext", where)
		} else {
			if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
				add("%s: allowPrivilegeEscalation must be false", where)
			}
			if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
				add("%s: readOnlyRootFilesystem must be true", where)
			}
			if csc.Privileged != nil && *csc.Privileged {
				add("%s: privileged", where)
			}
			if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
				add("%s: capabilities must drop ALL and add none", where)
			}
			if csc.RunAsUser != nil && *csc.RunAsUser == 0 {
				add("%s: runs as uid 0", where)
			}
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[res]; !ok {
				add("%s: no %s request", where, res)
			}
			if _, ok := c.Resources.Limits[res]; !ok {
				add("%s: no %s limit", where, res)
			}
		}
		for _, e := range c.Env {
			if !looksSecret(e.Name) {
				continue
			}
			if e.Value != "" || e.ValueFrom != nil {
				add("%s: %s is given in the environment; mount the Secret as a file and set %s_FILE", where, e.Name, e.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				add("%s: envFrom a Secret puts secrets in the environment; mount it as files", where)
			}
		}
		mounts := map[string]string{}
		for _, vm := range c.VolumeMounts {
			mounts[vm.Name] = vm.MountPath
			if secretVolumes[vm.Name] && !vm.ReadOnly {
				add("%s: secret volume %s must be mounted readOnly", where, vm.Name)
			}
		}
		for _, e := range c.Env {
			if !strings.HasSuffix(e.Name, "_FILE") {
				continue
			}
			mounted := false
			for vol, path := range mounts {
				if secretVolumes[vol] && strings.HasPrefix(e.Value, path+"/") {
					mounted = true
				}
			}
			if !mounted {
				add("%s: %s=%s is not inside a mounted secret volume", where, e.Name, e.Value)
			}
		}
	}
}

// checkAPIContainer applies the rules of the serving container: production settings, migrations off,
// both secrets as files, and the two probes on the right paths.
func checkAPIContainer(what string, containers []corev1.Container, add func(string, ...any)) {
	if len(containers) != 1 {
		add("%s: want exactly one container, got %d", what, len(containers))
		return
	}
	c := containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for k, want := range map[string]string{"FORTRESS_ENV": "production", "AUTO_MIGRATE": "false"} {
		if env[k] != want {
			add("%s: %s=%q, want %q", what, k, env[k], want)
		}
	}
	for _, k := range []string{"JWT_SECRET_KEY_FILE", "DATABASE_URL_FILE"} {
		if env[k] == "" {
			add("%s: %s is not set", what, k)
		}
	}
	probePath := func(p *corev1.Probe) string {
		if p == nil || p.HTTPGet == nil {
			return ""
		}
		return p.HTTPGet.Path
	}
	if got := probePath(c.LivenessProbe); got != "/health" {
		add("%s: liveness probe path %q, want /health", what, got)
	}
	if got := probePath(c.ReadinessProbe); got != "/readyz" {
		add("%s: readiness probe path %q, want /readyz", what, got)
	}
}

// allowedEgressPorts are the only destinations the pods may reach: PostgreSQL, Redis and DNS.
var allowedEgressPorts = []int32{5432, 6379, 53}

// checkNetworkPolicies requires a default deny of both directions, ingress to the API only from the
// ingress controller's namespace, and egress only on allowedEgressPorts.
func checkNetworkPolicies(policies []*networkingv1.NetworkPolicy, add func(string, ...any)) {
	defaultDeny, apiIngress := false, false
	for _, p := range policies {
		types := p.Spec.PolicyTypes
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
			len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 &&
			slices.Contains(types, networkingv1.PolicyTypeIngress) && slices.Contains(types, networkingv1.PolicyTypeEgress) {
			defaultDeny = true
		}
		for _, rule := range p.Spec.Ingress {
			for _, peer := range rule.From {
				if peer.NamespaceSelector == nil || peer.IPBlock != nil {
					add("NetworkPolicy/%s: ingress must come only from the ingress controller's namespace", p.Name)
				}
			}
			if len(rule.From) == 0 {
				add("NetworkPolicy/%s: an ingress rule without from admits everyone", p.Name)
			}
			if p.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] == "api" {
				apiIngress = true
			}
		}
		for _, rule := range p.Spec.Egress {
			if len(rule.Ports) == 0 || len(rule.To) == 0 {
				add("NetworkPolicy/%s: an egress rule without ports or destinations allows too much", p.Name)
			}
			for _, port := range rule.Ports {
				if port.Port == nil || !slices.Contains(allowedEgressPorts, port.Port.IntVal) {
					add("NetworkPolicy/%s: egress port %v is not PostgreSQL, Redis or DNS", p.Name, port.Port)
				}
			}
		}
	}
	if !defaultDeny {
		add("no default-deny NetworkPolicy (empty podSelector, both policy types, no rules)")
	}
	if !apiIngress {
		add("no NetworkPolicy admits the ingress controller to the API")
	}
}

// CheckSecretExample decodes the example Secret (the content of secret.example.yaml) strictly and
// requires every value to be a visible placeholder, so that the example can never carry a real secret
// into git.
func CheckSecretExample(data []byte) ([]string, error) {
	var s corev1.Secret
	if err := decodeStrict(data, &s); err != nil {
		return nil, fmt.Errorf("the example Secret: %w", err)
	}
	var problems []string
	if len(s.Data) > 0 {
		problems = append(problems, "the example Secret uses data:; use stringData with visible placeholders")
	}
	for _, k := range []string{"jwt_secret_key", "database_url"} {
		v, ok := s.StringData[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("the example Secret has no %s key, which the pods mount", k))
		} else if !strings.HasPrefix(v, "<replace") {
			problems = append(problems, fmt.Sprintf("the example Secret's %s is not a <replace...> placeholder", k))
		}
	}
	return problems, nil
}
