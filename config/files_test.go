package config

// The settings files users start from: .env.example and docker-compose.yml
// must know every setting Load reads, and .env.example must load as is.

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/joho/godotenv"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// settingNames is every variable Load reads, in order.
func settingNames(t *testing.T) []string {
	t.Helper()
	var names []string
	_, _ = Load(func(name string) (string, bool) {
		names = append(names, name)
		return "", false
	})
	require.NotEmpty(t, names)
	return names
}

// commentedSetting is a "# KEY=value" line of .env.example.
var commentedSetting = regexp.MustCompile(`(?m)^# ?([A-Z][A-Z0-9_]*=.*)$`)

func TestEnvExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../.env.example")
	require.NoError(t, err)
	active, err := godotenv.Unmarshal(string(raw))
	require.NoError(t, err, ".env.example as shipped")
	all, err := godotenv.Unmarshal(commentedSetting.ReplaceAllString(string(raw), "$1"))
	require.NoError(t, err, ".env.example with every commented setting made active")

	t.Run("loads as shipped", func(t *testing.T) {
		_, err := Load(lookupFrom(active))
		require.NoError(t, err)
	})
	t.Run("loads with every setting uncommented, and the comments are the defaults", func(t *testing.T) {
		want, err := Load(lookupFrom(active))
		require.NoError(t, err)
		got, err := Load(lookupFrom(all))
		require.NoError(t, err)
		require.Equal(t, want, got, "a commented line must show the default")
	})
	t.Run("lists every setting", func(t *testing.T) {
		for _, name := range settingNames(t) {
			require.Contains(t, all, name, ".env.example must list %s", name)
		}
	})
}

func TestComposePassesEverySetting(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docker-compose.yml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose), "docker-compose.yml is valid YAML")

	var ims []string
	for name, svc := range compose.Services {
		if len(svc.Environment) > 0 && svc.Environment["WEBHOOK_URL"] != "" {
			ims = append(ims, name)
		}
	}
	slices.Sort(ims)
	require.Equal(t, []string{"ims", "ims-rabbitmq"}, ims, "the IMS services")
	for _, name := range ims {
		t.Run(name, func(t *testing.T) {
			env := compose.Services[name].Environment
			for _, setting := range settingNames(t) {
				require.Contains(t, env, setting, "compose service %s must pass %s through", name, setting)
			}
			require.NotEqual(t, env["API_KEY"], env["WEBHOOK_AUTH_KEY"], "distinct keys")
			require.True(t, strings.HasPrefix(env["API_KEY"], "${API_KEY:-"), "API_KEY comes from .env with a default: %s", env["API_KEY"])
		})
	}
}
