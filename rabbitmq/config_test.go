package rabbitmq_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims/rabbitmq"
)

// Every queue and exchange of the topology is in Queues or Exchanges, the
// lists that tools and tests delete by: a queue named only by hand in a
// cleanup was once left behind on the broker by every end-to-end run.
func TestTopologyListsEveryQueueAndExchange(t *testing.T) {
	topo := rabbitmq.TopologyFor("x")
	v := reflect.ValueOf(topo)
	for i := range v.NumField() {
		name, value := v.Type().Field(i).Name, v.Field(i).String()
		switch {
		case strings.HasSuffix(name, "Queue"):
			require.Contains(t, topo.Queues(), value, "%s is in Queues", name)
		case strings.HasSuffix(name, "Exchange"):
			require.Contains(t, topo.Exchanges(), value, "%s is in Exchanges", name)
		}
	}
	for _, name := range append(topo.Queues(), topo.Exchanges()...) {
		require.True(t, strings.HasPrefix(name, "x."), "%s is under the prefix", name)
	}
}
