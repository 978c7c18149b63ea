package webhook

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSignerSpecVector checks the signer against the example of the
// Standard Webhooks reference libraries' tests.
func TestSignerSpecVector(t *testing.T) {
	t.Parallel()
	s, err := NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	got := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}

func TestNewSignerRejectsBadSecrets(t *testing.T) {
	t.Parallel()
	for name, secret := range map[string]string{"empty": "", "whsec_ not base64": "whsec_!!!", "whsec_ with nothing": "whsec_"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := NewSigner(secret)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "!!!", "the error never quotes the secret")
		})
	}
}
