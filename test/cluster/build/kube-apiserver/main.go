// The upstream k8s.io/kubernetes/cmd/kube-apiserver main, copied so that this small module can build it from
// the Go module proxy (k8s.io/kubernetes itself cannot be `go install`ed: it replaces its staging modules with
// local paths, which a consumer must redo, see go.mod).
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
