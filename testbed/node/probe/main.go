// A network probe for the test bed's real node, written for the FLEAD test bed and
// packed alone into an image FROM scratch: the node's smoke tests run it in a pod
// to check what a pod can and cannot reach. Each argument is one expectation:
//
//	dns:NAME          NAME resolves (through the pod's resolv.conf), retried for up to 20 s
//	nodns:NAME        NAME does not resolve (one attempt)
//	tcp:HOST:PORT     a TCP connection opens, retried for up to 20 s (Service rules and
//	                  endpoints are programmed a moment after a pod turns Ready)
//	notcp:HOST:PORT   one attempt fails within 3 s
//	serve:PORT        accept TCP connections on PORT forever (a server for the others)
//
// One line per expectation ("ok ..." or "FAIL ..."); exit status 1 if any failed.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func check(arg string) (bool, string) {
	kind, target, found := strings.Cut(arg, ":")
	if !found {
		return false, "unknown expectation"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	switch kind {
	case "dns", "nodns":
		addrs, err := net.DefaultResolver.LookupHost(ctx, target)
		if kind == "dns" {
			return err == nil, fmt.Sprintf("%v %v", addrs, err)
		}
		return err != nil, fmt.Sprintf("%v %v", addrs, err)
	case "tcp", "notcp":
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
		if err == nil {
			conn.Close()
		}
		if kind == "tcp" {
			return err == nil, fmt.Sprintf("%v", err)
		}
		return err != nil, fmt.Sprintf("%v", err)
	}
	return false, "unknown expectation"
}

func serve(port string) {
	listener, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Println("FAIL serve:", err)
		os.Exit(1)
	}
	fmt.Println("serving on", listener.Addr())
	for {
		conn, err := listener.Accept()
		if err == nil {
			conn.Close()
		}
	}
}

// expect retries the positive expectations until they hold or 20 s pass.
func expect(arg string) (bool, string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		good, detail := check(arg)
		if good || strings.HasPrefix(arg, "no") || time.Now().After(deadline) {
			return good, detail
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func main() {
	if len(os.Args) == 2 && strings.HasPrefix(os.Args[1], "serve:") {
		serve(strings.TrimPrefix(os.Args[1], "serve:"))
	}
	failed := false
	for _, arg := range os.Args[1:] {
		good, detail := expect(arg)
		verdict := "ok"
		if !good {
			verdict, failed = "FAIL", true
		}
		fmt.Printf("%s %s (%s)\n", verdict, arg, detail)
	}
	if failed {
		os.Exit(1)
	}
}
