package sandbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The proc connector's wire format (linux/connector.h, linux/cn_proc.h):
// after the netlink header, a cn_msg (20 bytes) and a proc_event: what,
// cpu, timestamp_ns (CLOCK_MONOTONIC) and the event's data.
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procCnMcastIgnore = 2
	procEventFork     = 0x1
	procEventExec     = 0x2
	procEventExit     = 0x80000000
	cnMsgLen          = 20
)

// listenSeq numbers the listen requests of this process.
var listenSeq atomic.Uint32

// tracer records the processes of one container from the host: see Trace.
type tracer struct {
	cn, ts     int // proc connector and taskstats sockets (blocking, with a receive timeout)
	tsFamily   uint16
	wallAtMono time.Time // wall clock at monoBase
	monoBase   int64

	mu    sync.Mutex
	root  int
	live  map[int]*Process // by host tgid
	done  []*Process
	all   []*Process
	stats map[int][]taskRecord // taskstats exit records of members, by tgid
	// members are the tgids of the container's processes, ever; pending
	// are exit records of other tgids, kept pendingFor in case their fork
	// is read late (the sockets are read apart), then dropped: every exit
	// on the host comes, and a long RUN must not hoard them.
	members  map[int]bool
	pending  []taskRecord
	lost     bool
	rootExit bool // the command's exit was seen on both sockets
	rootTS   bool
	stopping atomic.Bool
	wg       sync.WaitGroup
	argvBuf  []byte
	cg       *cgroup // the container's, for its peak memory
}

type taskRecord struct {
	pid     int
	etime   time.Duration // fork to exit
	utime   time.Duration
	stime   time.Duration
	rss     int64
	rb, wb  int64
	rc, wc  int64
	comm    string
	thread  bool // a thread other than the leader
	tgid    int
	receive time.Time
}

// startTracer subscribes to the kernel's process events before the command
// of the container whose init is root can run.
func startTracer(root int) (*tracer, error) {
	if InUserNS() {
		// The proc connector sends nothing to a user namespace (rootless
		// strata): stop would wait its 500 ms for events that never come.
		return nil, errors.New("not available without root: the kernel's process events go to the host's root only")
	}
	t := &tracer{root: root, live: map[int]*Process{}, stats: map[int][]taskRecord{}, members: map[int]bool{root: true}}
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return nil, err
	}
	t.wallAtMono, t.monoBase = time.Now(), mono.Nano()
	var err error
	if t.cn, err = listenProcConnector(); err != nil {
		return nil, fmt.Errorf("proc connector: %w", err)
	}
	if t.ts, t.tsFamily, err = listenTaskstats(); err != nil {
		unix.Close(t.cn)
		return nil, fmt.Errorf("taskstats: %w", err)
	}
	t.argvBuf = make([]byte, 64<<10)
	t.live[root] = &Process{PID: root, Exit: -1}
	t.wg.Add(2)
	go t.readLoop(t.cn, t.procEvent)
	go t.readLoop(t.ts, t.taskEvent)
	return t, nil
}

// netlinkSocket is a blocking socket whose receive times out, so that a
// reader sees stop: a blocking recvfrom per message costs one system call,
// where the runtime's poller would cost three (read, epoll, read).
func netlinkSocket(proto int, groups uint32) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, err
	}
	tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// Thousands of short processes a second must not overflow it.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func listenProcConnector() (int, error) {
	fd, err := netlinkSocket(unix.NETLINK_CONNECTOR, cnIdxProc)
	if err != nil {
		return -1, err
	}
	token := uint32(os.Getpid())<<12 ^ listenSeq.Add(1)
	// First without a filter: the kernel's answer has no event type,
	// which a filter would drop.
	if err := sendProcConnector(fd, procCnMcastListen, token, false); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// The kernel acknowledges the listen (an event of type none with the
	// error), except to a caller outside the initial user and PID
	// namespaces, which it ignores: then no events would ever come.
	buf := make([]byte, 16<<10)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			unix.Close(fd)
			return -1, err
		}
		msgs, _ := syscall.ParseNetlinkMessage(buf[:n])
		for _, m := range msgs {
			// PROC_EVENT_NONE answering our token, in cn_msg's ack plus
			// one (other listeners' answers come too)
			if len(m.Data) >= cnMsgLen+20 && binary.NativeEndian.Uint32(m.Data[12:]) == token+1 && binary.NativeEndian.Uint32(m.Data[cnMsgLen:]) == 0 {
				if code := binary.NativeEndian.Uint32(m.Data[cnMsgLen+16:]); code != 0 {
					unix.Close(fd)
					return -1, unix.Errno(code)
				}
				// Then only fork, exec and exit (Linux 6.6 and later;
				// older ones ignore it and send every event).
				if err := sendProcConnector(fd, procCnMcastListen, 0, true); err != nil {
					unix.Close(fd)
					return -1, err
				}
				return fd, nil
			}
		}
	}
	unix.Close(fd)
	return -1, errors.New("no answer to listen (strata is not in the initial user and PID namespaces)")
}

// sendProcConnector sends op; with filter, as Linux 6.6's struct
// proc_input with the event types fork, exec and exit (older kernels
// ignore that form), else as the op alone (every event, and an answer
// when token is not 0).
func sendProcConnector(fd int, op, token uint32, filter bool) error {
	n := 4
	if filter {
		n = 8
	}
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+n)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.NLMSG_DONE)
	ne.PutUint32(msg[12:], uint32(os.Getpid()))
	cn := msg[unix.NLMSG_HDRLEN:]
	ne.PutUint32(cn[0:], cnIdxProc)
	ne.PutUint32(cn[4:], cnValProc)
	ne.PutUint32(cn[12:], token) // ack: answered with token+1
	ne.PutUint16(cn[16:], uint16(n))
	ne.PutUint32(cn[cnMsgLen:], op)
	if filter {
		ne.PutUint32(cn[cnMsgLen+4:], procEventFork|procEventExec|procEventExit)
	}
	return sendNetlink(fd, msg)
}

func sendNetlink(fd int, msg []byte) error {
	return unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// genlMessage is a generic netlink request: header, genlmsghdr, attributes.
func genlMessage(family uint16, cmd uint8, attrs ...[]byte) []byte {
	msg := make([]byte, unix.NLMSG_HDRLEN+unix.GENL_HDRLEN)
	for _, a := range attrs {
		msg = append(msg, a...)
	}
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], family)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	msg[unix.NLMSG_HDRLEN] = cmd
	msg[unix.NLMSG_HDRLEN+1] = 1
	return msg
}

func netlinkAttr(typ uint16, data []byte) []byte {
	a := make([]byte, unix.NLA_HDRLEN+len(data), unix.NLA_HDRLEN+(len(data)+3)&^3)
	binary.NativeEndian.PutUint16(a[0:], uint16(len(a)))
	binary.NativeEndian.PutUint16(a[2:], typ)
	copy(a[unix.NLA_HDRLEN:], data)
	return a[:cap(a)]
}

func parseAttrs(b []byte) map[uint16][]byte {
	out := map[uint16][]byte{}
	for len(b) >= unix.NLA_HDRLEN {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < unix.NLA_HDRLEN || l > len(b) {
			break
		}
		out[typ] = b[unix.NLA_HDRLEN:l]
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return out
}

func listenTaskstats() (int, uint16, error) {
	f, err := netlinkSocket(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return -1, 0, err
	}
	fail := func(err error) (int, uint16, error) {
		unix.Close(f)
		return -1, 0, err
	}
	if err := sendNetlink(f, genlMessage(unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY,
		netlinkAttr(unix.CTRL_ATTR_FAMILY_NAME, []byte(unix.TASKSTATS_GENL_NAME+"\x00")))); err != nil {
		return fail(err)
	}
	buf := make([]byte, 16<<10)
	var n int
	for tries := 0; ; tries++ {
		n, _, err = unix.Recvfrom(f, buf, 0)
		if err == nil || tries == 100 || !(errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) {
			break
		}
	}
	if err != nil {
		return fail(fmt.Errorf("read family: %w", err))
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil || len(msgs) == 0 {
		return fail(fmt.Errorf("read family: %v", err))
	}
	if err := netlinkError(msgs[0]); err != nil {
		return fail(err)
	}
	id := parseAttrs(msgs[0].Data[unix.GENL_HDRLEN:])[unix.CTRL_ATTR_FAMILY_ID]
	if len(id) < 2 {
		return fail(errors.New("no family id"))
	}
	family := binary.NativeEndian.Uint16(id)
	reg := genlMessage(family, unix.TASKSTATS_CMD_GET, netlinkAttr(unix.TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, []byte(cpuMask()+"\x00")))
	binary.NativeEndian.PutUint16(reg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	if err := sendNetlink(f, reg); err != nil {
		return fail(err)
	}
	// Its answer: an error message, 0 when registered.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(f, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return fail(err)
		}
		msgs, _ := syscall.ParseNetlinkMessage(buf[:n])
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR {
				if err := netlinkError(m); err != nil {
					return fail(fmt.Errorf("register: %w", err))
				}
				return f, family, nil
			}
		}
	}
	return fail(errors.New("register: no answer"))
}

// cpuMask is every CPU that may exist: exits are reported per CPU.
func cpuMask() string {
	if possible, err := os.ReadFile("/sys/devices/system/cpu/possible"); err == nil {
		return string(bytes.TrimSpace(possible))
	}
	return "0-" + strconv.Itoa(runtime.NumCPU()-1)
}

func netlinkError(m syscall.NetlinkMessage) error {
	if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
		return nil
	}
	if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
		return unix.Errno(-code)
	}
	return nil
}

// readBatch is how long a reader sleeps once it has emptied its socket:
// the kernel queues each fork, exec and exit as its own message, and
// waking up for every one of them cost the build more than the reading
// (10,000 short processes took 1.22× as long); in batches the reader wakes
// at most 1/readBatch times a second. The price: a process that is gone
// within readBatch of its exec is named by its comm, its argv unread.
const readBatch = 5 * time.Millisecond

// readLoop handles the socket's messages until stop, and then until it is
// empty.
func (t *tracer) readLoop(fd int, handle func(syscall.NetlinkMessage, time.Time)) {
	defer t.wg.Done()
	buf := make([]byte, 64<<10)
	flags := 0 // blocking (up to the receive timeout) while the socket is empty
	for {
		stopping := t.stopping.Load()
		if stopping {
			flags = unix.MSG_DONTWAIT // what is queued, then out
		}
		n, _, err := unix.Recvfrom(fd, buf, flags)
		if err != nil {
			switch {
			case errors.Is(err, unix.ENOBUFS):
				t.mu.Lock()
				t.lost = true
				t.mu.Unlock()
				continue
			case errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EAGAIN) && stopping:
				return // drained
			case errors.Is(err, unix.EAGAIN) && flags != 0:
				flags = 0 // emptied: sleep, then wait for the next
				time.Sleep(readBatch)
				continue
			case errors.Is(err, unix.EAGAIN):
				continue // the receive timeout: look at stopping again
			}
			return // a broken socket
		}
		flags = unix.MSG_DONTWAIT
		now := time.Now()
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			handle(m, now)
		}
	}
}

func (t *tracer) at(ns uint64) time.Time {
	return t.wallAtMono.Add(time.Duration(int64(ns) - t.monoBase))
}

func (t *tracer) procEvent(m syscall.NetlinkMessage, _ time.Time) {
	d := m.Data
	if len(d) < cnMsgLen+16 {
		return
	}
	ev := d[cnMsgLen:]
	ne := binary.NativeEndian
	what := ne.Uint32(ev[0:])
	ts := t.at(ne.Uint64(ev[8:]))
	data := ev[16:]
	switch what {
	case procEventFork:
		if len(data) < 16 {
			return
		}
		ptgid, cpid, ctgid := int(ne.Uint32(data[4:])), int(ne.Uint32(data[8:])), int(ne.Uint32(data[12:]))
		if cpid != ctgid {
			return // a thread
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		parent := t.live[ptgid]
		if parent == nil || parent.Argv == nil {
			return // not ours, or the init's own (before the command)
		}
		p := &Process{PID: ctgid, PPID: ptgid, Argv: parent.Argv, Forked: true, Start: ts, Exit: -1}
		t.live[ctgid] = p
		t.members[ctgid] = true
		t.all = append(t.all, p)
	case procEventExec:
		if len(data) < 8 {
			return
		}
		tgid := int(ne.Uint32(data[4:]))
		t.mu.Lock()
		p := t.live[tgid]
		t.mu.Unlock()
		if p == nil {
			return
		}
		argv := readArgv(tgid, t.argvBuf)
		if tgid == t.root && len(argv) > 0 && argv[0] == initArg {
			// The init's own exec of /proc/self/exe: exec.Cmd.Start
			// returns when the exec closes its pipe, before the kernel
			// tells the exec, so it may come after the subscription.
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		switch {
		case p.Argv == nil: // the command itself: the init became it
			p.Start = ts
			t.all = append(t.all, p)
		case !p.Forked && p.Before == nil:
			p.Before = p.Argv
		}
		p.Argv, p.Forked, p.Exec = argv, false, ts
	case procEventExit:
		if len(data) < 16 {
			return
		}
		pid, tgid, code, sig := int(ne.Uint32(data[0:])), int(ne.Uint32(data[4:])), ne.Uint32(data[8:]), ne.Uint32(data[12:])
		_ = sig
		if pid != tgid {
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		p := t.live[tgid]
		if p == nil {
			return
		}
		delete(t.live, tgid)
		if tgid == t.root {
			t.rootExit = true
			if p.Argv == nil {
				return // the command never started
			}
		}
		p.End = ts
		ws := unix.WaitStatus(code)
		switch {
		case ws.Signaled():
			p.Exit = 128 + int(ws.Signal())
		default:
			p.Exit = ws.ExitStatus()
		}
		t.done = append(t.done, p)
	}
}

// readArgv reads a process's argv right at its exec; a process gone
// already keeps what taskstats names it (comm) later.
// Raw calls into buf (only the proc connector's reader calls it): no
// os.File, no poller.
func readArgv(pid int, buf []byte) []string {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/cmdline", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{}
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return []string{}
	}
	b := buf[:n]
	b = bytes.TrimSuffix(b, []byte{0})
	return splitNul(b)
}

func splitNul(b []byte) []string {
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

func (t *tracer) taskEvent(m syscall.NetlinkMessage, now time.Time) {
	if m.Header.Type != t.tsFamily || len(m.Data) < unix.GENL_HDRLEN {
		return
	}
	attrs := parseAttrs(m.Data[unix.GENL_HDRLEN:])
	aggr, ok := attrs[unix.TASKSTATS_TYPE_AGGR_PID]
	if !ok {
		return // the thread group's total carries only delay accounting
	}
	inner := parseAttrs(aggr)
	raw := inner[unix.TASKSTATS_TYPE_STATS]
	var st unix.Taskstats
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st)), raw)
	pid := int(st.Ac_pid)
	tgid := int(st.Ac_tgid)
	if st.Version < 13 || tgid == 0 {
		tgid = pid
	}
	r := taskRecord{
		pid: pid, tgid: tgid, thread: pid != tgid, receive: now,
		etime: time.Duration(st.Ac_etime) * time.Microsecond,
		utime: time.Duration(st.Ac_utime) * time.Microsecond,
		stime: time.Duration(st.Ac_stime) * time.Microsecond,
		rss:   int64(st.Hiwater_rss) << 10,
		rb:    int64(st.Read_bytes), wb: int64(st.Write_bytes),
		rc: int64(st.Read_char), wc: int64(st.Write_char),
		comm: unix.ByteSliceToString(unsafe.Slice((*byte)(unsafe.Pointer(&st.Ac_comm[0])), len(st.Ac_comm))),
	}
	t.mu.Lock()
	if t.members[tgid] {
		t.stats[tgid] = append(t.stats[tgid], r)
	} else {
		t.pending = append(t.pending, r)
	}
	if len(t.pending) > 0 && now.Sub(t.pending[0].receive) > pendingFor {
		t.sortPending(now.Add(-pendingFor))
	}
	if tgid == t.root {
		t.rootTS = true
	}
	t.mu.Unlock()
}

// pendingFor is how long an exit record of a tgid not (yet) known as the
// container's is kept.
const pendingFor = time.Second

// sortPending files the pending records of members under stats and drops
// those of others received before cut (all of them when cut is zero).
func (t *tracer) sortPending(cut time.Time) {
	keep := t.pending[:0]
	for _, r := range t.pending {
		switch {
		case t.members[r.tgid]:
			t.stats[r.tgid] = append(t.stats[r.tgid], r)
		case !cut.IsZero() && r.receive.After(cut):
			keep = append(keep, r)
		}
	}
	t.pending = keep
}

// stop waits briefly for the events of the command's exit (the parent can
// reap the init before its exit event is queued), unsubscribes and fills tr.
func (t *tracer) stop(tr *Trace) {
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		t.mu.Lock()
		seen := t.rootExit && t.rootTS
		t.mu.Unlock()
		if seen {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The loops read what is queued, then end at their next timeout.
	_ = sendProcConnector(t.cn, procCnMcastIgnore, 0, false)
	_ = sendNetlink(t.ts, genlMessage(t.tsFamily, unix.TASKSTATS_CMD_GET,
		netlinkAttr(unix.TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK, []byte(cpuMask()+"\x00"))))
	t.stopping.Store(true)
	t.wg.Wait()
	unix.Close(t.cn)
	unix.Close(t.ts)

	t.mu.Lock()
	defer t.mu.Unlock()
	t.sortPending(time.Time{})
	tr.Lost = t.lost
	if t.cg != nil {
		tr.MemoryPeak = t.cg.memoryPeak()
	}
	tr.Processes = make([]Process, 0, len(t.all))
	for _, p := range t.all {
		t.attachStats(p)
		tr.Processes = append(tr.Processes, *p)
	}
	sort.SliceStable(tr.Processes, func(i, j int) bool { return tr.Processes[i].Start.Before(tr.Processes[j].Start) })
}

// attachStats gives p the taskstats of its threads: the records of its
// tgid whose lifetime matches its own (a PID may have been reused).
func (t *tracer) attachStats(p *Process) {
	recs := t.stats[p.PID]
	if len(recs) == 0 || p.End.IsZero() {
		return
	}
	life := p.End.Sub(p.Start)
	// The leader's record: the one whose fork-to-exit is closest.
	best, bestDiff := -1, time.Duration(1<<62)
	for i, r := range recs {
		if r.thread {
			continue
		}
		diff := r.etime - life
		if p.PPID == 0 {
			diff = 0 // the command: its start is the init's fork, not its exec
		}
		if diff < 0 {
			diff = -diff
		}
		if diff < bestDiff {
			best, bestDiff = i, diff
		}
	}
	if best < 0 || bestDiff > 250*time.Millisecond {
		return
	}
	leader := recs[best]
	add := func(r taskRecord) {
		p.User += r.utime
		p.System += r.stime
		p.MaxRSS = max(p.MaxRSS, r.rss)
		p.ReadBytes += r.rb
		p.WriteBytes += r.wb
		p.ReadChars += r.rc
		p.WriteChars += r.wc
	}
	add(leader)
	for _, r := range recs {
		// Its other threads ended before it, within its lifetime.
		if r.thread && !r.receive.After(leader.receive) && !r.receive.Before(p.Start) {
			add(r)
		}
	}
	if len(p.Argv) == 0 && leader.comm != "" {
		p.Argv = []string{leader.comm}
	}
}

// memoryPeak is the most memory the cgroup's processes used at once, in
// bytes (memory.peak on v2, memory.max_usage_in_bytes on v1), 0 when the
// cgroup does not tell.
func (cg *cgroup) memoryPeak() int64 {
	for _, dir := range cg.dirs {
		for _, f := range []string{"memory.peak", "memory.max_usage_in_bytes"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				continue
			}
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				return n
			}
		}
	}
	return 0
}
