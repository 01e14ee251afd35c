// Cluster DNS of the test bed's real node, written for the FLEAD test bed: CoreDNS
// with only the plugins the bed's Corefile uses (the full build links every cloud
// provider's SDK). Plugins register themselves when imported.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
