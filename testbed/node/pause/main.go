// The real node's sandbox ("pause") process, written for the FLEAD test bed.
// It holds a pod's namespaces: as PID 1 of the sandbox it sleeps until SIGINT or
// SIGTERM, and reaps any orphaned child it inherits. Built static (CGO off) and
// packed alone into an image FROM scratch by testbed/build.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
