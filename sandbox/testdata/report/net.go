package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// netResult is what `report net` prints.
type netResult struct {
	Interfaces []string          // net.Interfaces (netlink), in index order
	Dial       map[string]string // address -> "OK" or the error
	Sniffed    bool              // the marker was seen on an AF_PACKET socket
	SniffErr   string            // the AF_PACKET socket could not be opened
	SniffIfs   []string          // interfaces packets were seen on
}

// netReport: report net [-dial ADDR]... [-unix NAME]... [-sniff MARKER DURATION]
//
// -dial connects over TCP (2 s timeout), -unix to an abstract unix socket
// (@NAME). -sniff opens an AF_PACKET socket for every protocol, prints
// "sniffing" on stderr, and captures until it sees MARKER in a packet or
// DURATION has passed.
func netReport(args []string) {
	res := netResult{Dial: map[string]string{}}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			res.Interfaces = append(res.Interfaces, i.Name)
		}
	}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-dial":
			i++
			c, err := net.DialTimeout("tcp", args[i], 2*time.Second)
			res.Dial[args[i]] = result(err)
			if err == nil {
				c.Close()
			}
		case "-unix":
			i++
			c, err := net.Dial("unix", "@"+args[i])
			res.Dial["@"+args[i]] = result(err)
			if err == nil {
				c.Close()
			}
		case "-sniff":
			marker, d := args[i+1], args[i+2]
			i += 2
			dur, err := time.ParseDuration(d)
			if err != nil {
				res.SniffErr = err.Error()
				break
			}
			sniff(&res, []byte(marker), dur)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	_ = enc.Encode(res)
}

func result(err error) string {
	if err != nil {
		return err.Error()
	}
	return "OK"
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func sniff(res *netResult, marker []byte, dur time.Duration) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		res.SniffErr = err.Error()
		os.Stderr.WriteString("sniffing\n")
		return
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Usec: 100000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	os.Stderr.WriteString("sniffing\n")
	seen := map[string]bool{}
	buf := make([]byte, 65536)
	for deadline := time.Now().Add(dur); time.Now().Before(deadline); {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n <= 0 {
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok {
			name := "?"
			if i, err := net.InterfaceByIndex(ll.Ifindex); err == nil {
				name = i.Name
			}
			if !seen[name] {
				seen[name] = true
				res.SniffIfs = append(res.SniffIfs, name)
			}
		}
		if bytes.Contains(buf[:n], marker) {
			res.Sniffed = true
			return
		}
	}
}

// isNet reports whether argv asks for the network report.
func isNet(args []string) bool { return len(args) > 1 && strings.EqualFold(args[1], "net") }
