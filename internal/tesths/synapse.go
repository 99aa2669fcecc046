package tesths

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"syscall"

	"gopkg.in/yaml.v3"
)

// EnvSynapseRoot names the directory of the Debian sid chroot that holds
// Synapse; scripts/testdeps.sh builds it there.
const EnvSynapseRoot = "MATRIX_CPIM_SYNAPSE_ROOT"

const defaultSynapseRoot = "/var/cache/matrix-cpim/synapse-sid"

// completeMarker is the file scripts/testdeps.sh writes last into a chroot
// whose build finished; keep the two in step.
const completeMarker = ".matrix-cpim-synapse-complete"

func synapseRoot() string {
	if root := os.Getenv(EnvSynapseRoot); root != "" {
		return root
	}
	return defaultSynapseRoot
}

func checkSynapse() error {
	root := synapseRoot()
	if _, err := os.Stat(filepath.Join(root, completeMarker)); err != nil {
		return fmt.Errorf("no complete Synapse chroot at %s (set by %s): run scripts/testdeps.sh synapse", root, EnvSynapseRoot)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("running Synapse in its chroot %s needs root", root)
	}
	return nil
}

// synapseRateLimit replaces every rate limit of Synapse's configuration
// manual: tests send messages and register users far faster than the
// defaults allow.
var synapseRateLimit = map[string]any{"per_second": 10000, "burst_count": 100000}

// synapseLogConfig sends Synapse's log to stderr, which Start sends to the
// log file.
const synapseLogConfig = `version: 1
formatters:
  precise:
    format: '%(asctime)s %(levelname)s %(name)s %(request)s: %(message)s'
handlers:
  console:
    class: logging.StreamHandler
    formatter: precise
    stream: ext://sys.stderr
root:
  level: INFO
  handlers: [console]
disable_existing_loggers: false
`

// synapseCommand lays out a run directory inside the chroot (Synapse sees
// only the chroot, so its configuration, database and the registration
// files must be there) and returns the command that runs Synapse on it.
// The chroot needs neither /proc nor /dev mounted: debootstrap leaves the
// few device nodes Python opens.
func (s *Server) synapseCommand(t T, registrationFiles []string) (*exec.Cmd, error) {
	root := synapseRoot()
	hostDir, err := os.MkdirTemp(filepath.Join(root, "run"), "tesths-")
	if err != nil {
		return nil, err
	}
	// Registered before Start's stop, so it runs after Synapse exited.
	t.Cleanup(func() {
		if err := os.RemoveAll(hostDir); err != nil {
			t.Logf("tesths: removing %s: %v", hostDir, err)
		}
	})
	dir := path.Join("/run", filepath.Base(hostDir)) // as Synapse sees it
	write := func(name string, data []byte) (string, error) {
		return path.Join(dir, name), os.WriteFile(filepath.Join(hostDir, name), data, 0o600)
	}

	var appservices []string
	for i, f := range registrationFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		p, err := write(fmt.Sprintf("appservice-%d.yaml", i), data)
		if err != nil {
			return nil, err
		}
		appservices = append(appservices, p)
	}
	keyPath, err := write("signing.key", synapseSigningKey())
	if err != nil {
		return nil, err
	}
	logConfig, err := write("log.yaml", []byte(synapseLogConfig))
	if err != nil {
		return nil, err
	}
	port, err := portOf(s.addr)
	if err != nil {
		return nil, err
	}

	cfg := map[string]any{
		"server_name":    s.ServerName,
		"public_baseurl": s.URL + "/",
		"listeners": []any{map[string]any{
			"port":           port,
			"bind_addresses": []string{"127.0.0.1"},
			"type":           "http",
			"tls":            false,
			"x_forwarded":    false,
			"resources":      []any{map[string]any{"names": []string{"client", "media"}, "compress": false}},
		}},
		"database": map[string]any{
			"name": "sqlite3",
			"args": map[string]any{"database": path.Join(dir, "homeserver.db")},
		},
		"log_config":                  logConfig,
		"media_store_path":            path.Join(dir, "media"),
		"signing_key_path":            keyPath,
		"report_stats":                false,
		"suppress_key_server_warning": true,
		"trusted_key_servers":         []any{},
		// No federation listener, and no outbound federation either.
		"federation_domain_whitelist": []any{},
		"enable_registration":         false,
		"registration_shared_secret":  s.secret,
		// Only tests log in; the cheapest cost makes registration fast.
		"bcrypt_rounds":            4,
		"presence":                 map[string]any{"enabled": true},
		"app_service_config_files": appservices,
	}
	for _, key := range []string{
		"rc_message", "rc_registration", "rc_registration_token_validity",
		"rc_admin_redaction", "rc_joins_per_room", "rc_key_requests",
		"rc_3pid_validation", "rc_third_party_invite", "rc_media_create",
		"rc_delayed_event_mgmt", "rc_room_creation", "rc_reports", "rc_user_directory",
	} {
		cfg[key] = synapseRateLimit
	}
	cfg["rc_login"] = map[string]any{"address": synapseRateLimit, "account": synapseRateLimit, "failed_attempts": synapseRateLimit}
	cfg["rc_joins"] = map[string]any{"local": synapseRateLimit, "remote": synapseRateLimit}
	cfg["rc_invites"] = map[string]any{"per_room": synapseRateLimit, "per_user": synapseRateLimit, "per_issuer": synapseRateLimit}
	cfg["rc_presence"] = map[string]any{"per_user": synapseRateLimit}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgPath, err := write("homeserver.yaml", data)
	if err != nil {
		return nil, err
	}

	// Built by hand: exec.Command would look the path up on the host.
	return &exec.Cmd{
		Path: "/usr/bin/python3",
		Args: []string{"python3", "-m", "synapse.app.homeserver", "--config-path", cfgPath},
		Env: []string{
			"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			"LANG=C.UTF-8",
			"HOME=" + dir,
			// Keeps the shared chroot as the build left it.
			"PYTHONDONTWRITEBYTECODE=1",
		},
		Dir:         dir,
		SysProcAttr: &syscall.SysProcAttr{Chroot: root},
	}, nil
}

// synapseSigningKey returns a fresh key in Synapse's signing key file
// format, "ed25519 VERSION SEED" with the seed in unpadded base64; writing
// it saves a Python start for synapse --generate-keys.
func synapseSigningKey() []byte {
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	return []byte("ed25519 tesths " + base64.RawStdEncoding.EncodeToString(seed) + "\n")
}

// portOf returns the port of a host:port address.
func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}
