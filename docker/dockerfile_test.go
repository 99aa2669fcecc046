package docker

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is the instructions from one FROM up to the next.
type stage struct {
	image, name string
	body        []instruction
}

func (s stage) all(cmd string) []string {
	var args []string
	for _, in := range s.body {
		if in.cmd == cmd {
			args = append(args, in.args)
		}
	}
	return args
}

// parseDockerfile reads the subset of the Dockerfile syntax the image's Dockerfile uses: comment
// lines, backslash continuations, and FROM image [AS name].
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var pending string
	for n, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont
			continue
		}
		line, pending = strings.TrimSpace(pending+line), ""
		if line == "" {
			continue
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before the first FROM", path, n+1, in.cmd)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if len(stages) < 2 {
		t.Fatalf("%s: want a build and a runtime stage, got %d stages", path, len(stages))
	}
	return stages
}

// TestDockerfile guards the Dockerfile against drifting from what it packages: build.sh, the Go
// version of go.mod, the appservice port of the example config, and run.sh.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "../Dockerfile")
	build, runtime := stages[0], stages[len(stages)-1]

	if build.name != "build" {
		t.Errorf("first stage is named %q, want build", build.name)
	}
	if !slices.Contains(build.all("RUN"), "./build.sh") {
		t.Errorf("build stage runs %q, want ./build.sh among them, so that the image is built as the releases are", build.all("RUN"))
	}

	// golang:1.26-bookworm and debian:bookworm-slim: the Go release of go.mod, and one Debian
	// release for both, since the bridge links to the build image's glibc.
	golang := regexp.MustCompile(`^golang:(\d+\.\d+)-([a-z]+)$`).FindStringSubmatch(build.image)
	if golang == nil {
		t.Fatalf("build stage is FROM %s, want golang:MAJOR.MINOR-DEBIAN", build.image)
	}
	debian := regexp.MustCompile(`^debian:([a-z]+)-slim$`).FindStringSubmatch(runtime.image)
	if debian == nil {
		t.Fatalf("runtime stage is FROM %s, want debian:RELEASE-slim", runtime.image)
	}
	if golang[2] != debian[1] {
		t.Errorf("build stage is on Debian %s, runtime stage on %s", golang[2], debian[1])
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod: no go directive")
	}
	if string(goLine[1]) != golang[1] {
		t.Errorf("build stage has Go %s, go.mod wants %s", golang[1], goLine[1])
	}

	if port := getYAML(t, "../example-config.yaml", "appservice.port"); !slices.Contains(runtime.all("EXPOSE"), port) {
		t.Errorf("runtime stage exposes %q, want the example config's appservice.port %s", runtime.all("EXPOSE"), port)
	}
	if !slices.Contains(runtime.all("VOLUME"), "/data") {
		t.Errorf("runtime stage has volumes %q, want /data, run.sh's default", runtime.all("VOLUME"))
	}
	if !slices.Contains(runtime.all("COPY"), "--from=build /src/matrix-cpim /src/cpimtool /usr/bin/") {
		t.Errorf("runtime stage copies %q, want build.sh's binaries into /usr/bin, where run.sh looks", runtime.all("COPY"))
	}
	entrypoint := runtime.all("ENTRYPOINT")
	var argv []string
	if len(entrypoint) != 1 || json.Unmarshal([]byte(entrypoint[0]), &argv) != nil || len(argv) == 0 {
		t.Fatalf("runtime stage has ENTRYPOINT %q, want one in exec form", entrypoint)
	}
	script := argv[len(argv)-1]
	if !slices.Contains(runtime.all("COPY"), "docker/run.sh "+script) {
		t.Errorf("ENTRYPOINT runs %s, but the runtime stage does not copy docker/run.sh there; it copies %q", script, runtime.all("COPY"))
	}
}
