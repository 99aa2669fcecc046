package docker

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeService struct {
	Image       string            `yaml:"image"`
	Build       string            `yaml:"build"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
}

// volume splits a volume of the short syntax, host:target[:mode].
func volume(v string) (host, target, mode string) {
	host, rest, _ := strings.Cut(v, ":")
	target, mode, _ = strings.Cut(rest, ":")
	return host, target, mode
}

// synapseGroup is the group Synapse's image runs it as when GID is not set.
const synapseGroup = "991"

// TestCompose checks that docker-compose.yml is valid YAML whose services are the ones
// docs/docker.md describes, and that they agree with each other and with the docs where the setup
// depends on it: the registration's path, the group that may read it, and the build context.
func TestCompose(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	docs, err := os.ReadFile("../docs/docker.md")
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	for name := range compose.Services {
		names = append(names, name)
		if !strings.Contains(string(docs), "`"+name+"`") {
			t.Errorf("service %s is not described in docs/docker.md", name)
		}
	}
	slices.Sort(names)
	if want := []string{"matrix-cpim", "postgres", "synapse"}; !slices.Equal(names, want) {
		t.Fatalf("services %q, want %q", names, want)
	}
	bridge, synapse := compose.Services["matrix-cpim"], compose.Services["synapse"]

	if bridge.Build != "." {
		t.Errorf("matrix-cpim builds %q, want . (the Dockerfile at the top)", bridge.Build)
	}
	if !strings.HasPrefix(synapse.Image, "matrixdotorg/synapse:") {
		t.Errorf("synapse runs %q, want matrixdotorg/synapse", synapse.Image)
	}

	// Synapse reads the registration from the bridge's data directory, at the path the docs give
	// for app_service_config_files, with the group run.sh makes it readable by.
	var data, shared string
	for _, v := range bridge.Volumes {
		if host, target, _ := volume(v); target == "/data" {
			data = host
		}
	}
	if data == "" {
		t.Fatalf("matrix-cpim mounts %q, none at /data", bridge.Volumes)
	}
	for _, v := range synapse.Volumes {
		if host, target, mode := volume(v); host == data {
			if mode != "ro" {
				t.Errorf("synapse mounts the bridge's data directory as %q, want read-only", v)
			}
			shared = target
		}
	}
	if shared == "" {
		t.Fatalf("synapse mounts %q, not the bridge's data directory %s", synapse.Volumes, data)
	}
	if entry := "app_service_config_files:\n  - " + shared + "/registration.yaml\n"; !strings.Contains(string(docs), entry) {
		t.Errorf("docs/docker.md does not tell to add\n%s", entry)
	}
	group := synapse.Environment["GID"]
	if group == "" {
		group = synapseGroup
	}
	if bridge.Environment["GID"] != group {
		t.Errorf("matrix-cpim runs with GID %q, Synapse with group %s: Synapse could not read registration.yaml", bridge.Environment["GID"], group)
	}

	// The build context is the repository, where these directories lie; PostgreSQL's is not even
	// readable to the build.
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := strings.Split(string(ignore), "\n")
	for name, s := range compose.Services {
		for _, v := range s.Volumes {
			host, _, _ := volume(v)
			rel, ok := strings.CutPrefix(host, "./")
			if !ok {
				t.Errorf("%s mounts %q: want a directory beside docker-compose.yml", name, v)
				continue
			}
			top, _, _ := strings.Cut(rel, "/")
			if !slices.Contains(ignored, "/"+top+"/") {
				t.Errorf("%s keeps data in %s, which .dockerignore does not keep out of the build context", name, host)
			}
		}
	}
}
