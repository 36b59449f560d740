// Constants of liburing 2.3's liburing/io_uring.h. Each carries the name of its C
// counterpart; TestSymbolMap compiles the header and compares every value.

package uring

// sqe->flags (IOSQE_*) and their bit numbers.
const (
	SQEFixedFile         = 1  // IOSQE_FIXED_FILE
	SQEIODrain           = 2  // IOSQE_IO_DRAIN
	SQEIOLink            = 4  // IOSQE_IO_LINK
	SQEIOHardlink        = 8  // IOSQE_IO_HARDLINK
	SQEAsync             = 16 // IOSQE_ASYNC
	SQEBufferSelect      = 32 // IOSQE_BUFFER_SELECT
	SQECQESkipSuccess    = 64 // IOSQE_CQE_SKIP_SUCCESS
	SQEFixedFileBit      = 0  // IOSQE_FIXED_FILE_BIT
	SQEIODrainBit        = 1  // IOSQE_IO_DRAIN_BIT
	SQEIOLinkBit         = 2  // IOSQE_IO_LINK_BIT
	SQEIOHardlinkBit     = 3  // IOSQE_IO_HARDLINK_BIT
	SQEAsyncBit          = 4  // IOSQE_ASYNC_BIT
	SQEBufferSelectBit   = 5  // IOSQE_BUFFER_SELECT_BIT
	SQECQESkipSuccessBit = 6  // IOSQE_CQE_SKIP_SUCCESS_BIT
)

// io_uring_setup(2) flags (IORING_SETUP_*), for Params.Flags.
const (
	SetupIOPoll       = 1    // IORING_SETUP_IOPOLL
	SetupSQPoll       = 2    // IORING_SETUP_SQPOLL
	SetupSQAff        = 4    // IORING_SETUP_SQ_AFF
	SetupCQSize       = 8    // IORING_SETUP_CQSIZE
	SetupClamp        = 16   // IORING_SETUP_CLAMP
	SetupAttachWQ     = 32   // IORING_SETUP_ATTACH_WQ
	SetupRDisabled    = 64   // IORING_SETUP_R_DISABLED
	SetupSubmitAll    = 128  // IORING_SETUP_SUBMIT_ALL
	SetupCoopTaskrun  = 256  // IORING_SETUP_COOP_TASKRUN
	SetupTaskrunFlag  = 512  // IORING_SETUP_TASKRUN_FLAG
	SetupSQE128       = 1024 // IORING_SETUP_SQE128
	SetupCQE32        = 2048 // IORING_SETUP_CQE32
	SetupSingleIssuer = 4096 // IORING_SETUP_SINGLE_ISSUER
	SetupDeferTaskrun = 8192 // IORING_SETUP_DEFER_TASKRUN
)

// Opcodes (enum io_uring_op, IORING_OP_*), for SQE.Opcode and Probe.OpSupported.
const (
	OpNop            = 0  // IORING_OP_NOP
	OpReadv          = 1  // IORING_OP_READV
	OpWritev         = 2  // IORING_OP_WRITEV
	OpFsync          = 3  // IORING_OP_FSYNC
	OpReadFixed      = 4  // IORING_OP_READ_FIXED
	OpWriteFixed     = 5  // IORING_OP_WRITE_FIXED
	OpPollAdd        = 6  // IORING_OP_POLL_ADD
	OpPollRemove     = 7  // IORING_OP_POLL_REMOVE
	OpSyncFileRange  = 8  // IORING_OP_SYNC_FILE_RANGE
	OpSendmsg        = 9  // IORING_OP_SENDMSG
	OpRecvmsg        = 10 // IORING_OP_RECVMSG
	OpTimeout        = 11 // IORING_OP_TIMEOUT
	OpTimeoutRemove  = 12 // IORING_OP_TIMEOUT_REMOVE
	OpAccept         = 13 // IORING_OP_ACCEPT
	OpAsyncCancel    = 14 // IORING_OP_ASYNC_CANCEL
	OpLinkTimeout    = 15 // IORING_OP_LINK_TIMEOUT
	OpConnect        = 16 // IORING_OP_CONNECT
	OpFallocate      = 17 // IORING_OP_FALLOCATE
	OpOpenat         = 18 // IORING_OP_OPENAT
	OpClose          = 19 // IORING_OP_CLOSE
	OpFilesUpdate    = 20 // IORING_OP_FILES_UPDATE
	OpStatx          = 21 // IORING_OP_STATX
	OpRead           = 22 // IORING_OP_READ
	OpWrite          = 23 // IORING_OP_WRITE
	OpFadvise        = 24 // IORING_OP_FADVISE
	OpMadvise        = 25 // IORING_OP_MADVISE
	OpSend           = 26 // IORING_OP_SEND
	OpRecv           = 27 // IORING_OP_RECV
	OpOpenat2        = 28 // IORING_OP_OPENAT2
	OpEpollCtl       = 29 // IORING_OP_EPOLL_CTL
	OpSplice         = 30 // IORING_OP_SPLICE
	OpProvideBuffers = 31 // IORING_OP_PROVIDE_BUFFERS
	OpRemoveBuffers  = 32 // IORING_OP_REMOVE_BUFFERS
	OpTee            = 33 // IORING_OP_TEE
	OpShutdown       = 34 // IORING_OP_SHUTDOWN
	OpRenameat       = 35 // IORING_OP_RENAMEAT
	OpUnlinkat       = 36 // IORING_OP_UNLINKAT
	OpMkdirat        = 37 // IORING_OP_MKDIRAT
	OpSymlinkat      = 38 // IORING_OP_SYMLINKAT
	OpLinkat         = 39 // IORING_OP_LINKAT
	OpMsgRing        = 40 // IORING_OP_MSG_RING
	OpFsetxattr      = 41 // IORING_OP_FSETXATTR
	OpSetxattr       = 42 // IORING_OP_SETXATTR
	OpFgetxattr      = 43 // IORING_OP_FGETXATTR
	OpGetxattr       = 44 // IORING_OP_GETXATTR
	OpSocket         = 45 // IORING_OP_SOCKET
	OpUringCmd       = 46 // IORING_OP_URING_CMD
	OpSendZC         = 47 // IORING_OP_SEND_ZC
	OpSendmsgZC      = 48 // IORING_OP_SENDMSG_ZC
	OpLast           = 49 // IORING_OP_LAST

	// opReadMultishot is IORING_OP_READ_MULTISHOT (Linux 6.7), after
	// liburing 2.3's header (which ends at OpLast): Queue.Prep refuses it.
	opReadMultishot = 49
)

// Features reported in Params.Features (IORING_FEAT_*).
const (
	FeatSingleMmap     = 1    // IORING_FEAT_SINGLE_MMAP
	FeatNodrop         = 2    // IORING_FEAT_NODROP
	FeatSubmitStable   = 4    // IORING_FEAT_SUBMIT_STABLE
	FeatRWCurPos       = 8    // IORING_FEAT_RW_CUR_POS
	FeatCurPersonality = 16   // IORING_FEAT_CUR_PERSONALITY
	FeatFastPoll       = 32   // IORING_FEAT_FAST_POLL
	FeatPoll32Bits     = 64   // IORING_FEAT_POLL_32BITS
	FeatSQPollNonfixed = 128  // IORING_FEAT_SQPOLL_NONFIXED
	FeatExtArg         = 256  // IORING_FEAT_EXT_ARG
	FeatNativeWorkers  = 512  // IORING_FEAT_NATIVE_WORKERS
	FeatRsrcTags       = 1024 // IORING_FEAT_RSRC_TAGS
	FeatCQESkip        = 2048 // IORING_FEAT_CQE_SKIP
	FeatLinkedFile     = 4096 // IORING_FEAT_LINKED_FILE
)

// io_uring_register(2) opcodes (IORING_REGISTER_*, IORING_UNREGISTER_*) and IORING_REGISTER_FILES_SKIP.
const (
	RegisterFilesSkip      = -2 // IORING_REGISTER_FILES_SKIP
	RegisterBuffers        = 0  // IORING_REGISTER_BUFFERS
	RegisterFiles          = 2  // IORING_REGISTER_FILES
	RegisterEventFD        = 4  // IORING_REGISTER_EVENTFD
	RegisterFilesUpdate    = 6  // IORING_REGISTER_FILES_UPDATE
	RegisterEventFDAsync   = 7  // IORING_REGISTER_EVENTFD_ASYNC
	RegisterProbe          = 8  // IORING_REGISTER_PROBE
	RegisterPersonality    = 9  // IORING_REGISTER_PERSONALITY
	RegisterRestrictions   = 11 // IORING_REGISTER_RESTRICTIONS
	RegisterEnableRings    = 12 // IORING_REGISTER_ENABLE_RINGS
	RegisterFiles2         = 13 // IORING_REGISTER_FILES2
	RegisterFilesUpdate2   = 14 // IORING_REGISTER_FILES_UPDATE2
	RegisterBuffers2       = 15 // IORING_REGISTER_BUFFERS2
	RegisterBuffersUpdate  = 16 // IORING_REGISTER_BUFFERS_UPDATE
	RegisterIOWQAff        = 17 // IORING_REGISTER_IOWQ_AFF
	RegisterIOWQMaxWorkers = 19 // IORING_REGISTER_IOWQ_MAX_WORKERS
	RegisterRingFDs        = 20 // IORING_REGISTER_RING_FDS
	RegisterPBufRing       = 22 // IORING_REGISTER_PBUF_RING
	RegisterSyncCancel     = 24 // IORING_REGISTER_SYNC_CANCEL
	RegisterFileAllocRange = 25 // IORING_REGISTER_FILE_ALLOC_RANGE
	RegisterLast           = 26 // IORING_REGISTER_LAST
	UnregisterBuffers      = 1  // IORING_UNREGISTER_BUFFERS
	UnregisterFiles        = 3  // IORING_UNREGISTER_FILES
	UnregisterEventFD      = 5  // IORING_UNREGISTER_EVENTFD
	UnregisterPersonality  = 10 // IORING_UNREGISTER_PERSONALITY
	UnregisterIOWQAff      = 18 // IORING_UNREGISTER_IOWQ_AFF
	UnregisterRingFDs      = 21 // IORING_UNREGISTER_RING_FDS
	UnregisterPBufRing     = 23 // IORING_UNREGISTER_PBUF_RING
)

// Timeout flags (sqe->timeout_flags, IORING_TIMEOUT_*).
const (
	TimeoutAbs          = 1  // IORING_TIMEOUT_ABS
	TimeoutUpdate       = 2  // IORING_TIMEOUT_UPDATE
	TimeoutBoottime     = 4  // IORING_TIMEOUT_BOOTTIME
	TimeoutRealtime     = 8  // IORING_TIMEOUT_REALTIME
	TimeoutETimeSuccess = 32 // IORING_TIMEOUT_ETIME_SUCCESS
	TimeoutClockMask    = 12 // IORING_TIMEOUT_CLOCK_MASK
	TimeoutUpdateMask   = 18 // IORING_TIMEOUT_UPDATE_MASK
	LinkTimeoutUpdate   = 16 // IORING_LINK_TIMEOUT_UPDATE
)

// Poll command flags (stored in sqe->len, IORING_POLL_*).
const (
	PollAddMulti       = 1 // IORING_POLL_ADD_MULTI
	PollUpdateEvents   = 2 // IORING_POLL_UPDATE_EVENTS
	PollUpdateUserData = 4 // IORING_POLL_UPDATE_USER_DATA
	PollAddLevel       = 8 // IORING_POLL_ADD_LEVEL
)

// Cancel flags (sqe->cancel_flags, IORING_ASYNC_CANCEL_*).
const (
	AsyncCancelAll     = 1 // IORING_ASYNC_CANCEL_ALL
	AsyncCancelFD      = 2 // IORING_ASYNC_CANCEL_FD
	AsyncCancelAny     = 4 // IORING_ASYNC_CANCEL_ANY
	AsyncCancelFDFixed = 8 // IORING_ASYNC_CANCEL_FD_FIXED
)

// Send/recv/accept flags stored in sqe->ioprio.
const (
	RecvsendPollFirst = 1 // IORING_RECVSEND_POLL_FIRST
	RecvMultishot     = 2 // IORING_RECV_MULTISHOT
	RecvsendFixedBuf  = 4 // IORING_RECVSEND_FIXED_BUF
	AcceptMultishot   = 1 // IORING_ACCEPT_MULTISHOT
)

// CQE flags (cqe->flags, IORING_CQE_F_*) and the buffer ID shift.
const (
	CQEFBuffer       = 1  // IORING_CQE_F_BUFFER
	CQEFMore         = 2  // IORING_CQE_F_MORE
	CQEFSockNonempty = 4  // IORING_CQE_F_SOCK_NONEMPTY
	CQEFNotif        = 8  // IORING_CQE_F_NOTIF
	CQEBufferShift   = 16 // IORING_CQE_BUFFER_SHIFT
)

// SQ ring flags (IORING_SQ_*), see Ring.SQFlags.
const (
	SQNeedWakeup = 1 // IORING_SQ_NEED_WAKEUP
	SQCQOverflow = 2 // IORING_SQ_CQ_OVERFLOW
	SQTaskrun    = 4 // IORING_SQ_TASKRUN
)

// CQ ring flags (IORING_CQ_*).
const (
	CQEventFDDisabled = 1 // IORING_CQ_EVENTFD_DISABLED
)

// io_uring_enter(2) flags (IORING_ENTER_*).
const (
	EnterGetevents      = 1  // IORING_ENTER_GETEVENTS
	EnterSQWakeup       = 2  // IORING_ENTER_SQ_WAKEUP
	EnterSQWait         = 4  // IORING_ENTER_SQ_WAIT
	EnterExtArg         = 8  // IORING_ENTER_EXT_ARG
	EnterRegisteredRing = 16 // IORING_ENTER_REGISTERED_RING
)

// mmap(2) offsets of the rings (IORING_OFF_*).
const (
	OffSQRing = 0         // IORING_OFF_SQ_RING
	OffCQRing = 134217728 // IORING_OFF_CQ_RING
	OffSQEs   = 268435456 // IORING_OFF_SQES
)

// Restriction opcodes (IORING_RESTRICTION_*), for Restriction.Opcode.
const (
	RestrictionRegisterOp       = 0 // IORING_RESTRICTION_REGISTER_OP
	RestrictionSQEOp            = 1 // IORING_RESTRICTION_SQE_OP
	RestrictionSQEFlagsAllowed  = 2 // IORING_RESTRICTION_SQE_FLAGS_ALLOWED
	RestrictionSQEFlagsRequired = 3 // IORING_RESTRICTION_SQE_FLAGS_REQUIRED
	RestrictionLast             = 4 // IORING_RESTRICTION_LAST
)

// IORING_OP_MSG_RING commands and flags (IORING_MSG_*).
const (
	MsgRingCQESkip = 1 // IORING_MSG_RING_CQE_SKIP
	MsgData        = 0 // IORING_MSG_DATA
	MsgSendFD      = 1 // IORING_MSG_SEND_FD
)

// io-wq worker categories (IO_WQ_*), indexes of RegisterIOWQMaxWorkers values.
const (
	IOWQBound   = 0 // IO_WQ_BOUND
	IOWQUnbound = 1 // IO_WQ_UNBOUND
)

// Other flags from liburing/io_uring.h.
const (
	FileIndexAlloc       = 4294967295 // IORING_FILE_INDEX_ALLOC
	UringCmdFixed        = 1          // IORING_URING_CMD_FIXED
	FsyncDatasync        = 1          // IORING_FSYNC_DATASYNC
	SpliceFDInFixed      = 2147483648 // SPLICE_F_FD_IN_FIXED
	RsrcRegisterSparse   = 1          // IORING_RSRC_REGISTER_SPARSE
	ProbeOpSupportedFlag = 1          // IO_URING_OP_SUPPORTED
)

// UdataTimeout is LIBURING_UDATA_TIMEOUT, the user_data liburing uses for its internal
// timeout SQEs on kernels without IORING_FEAT_EXT_ARG.
const UdataTimeout = ^uint64(0) // LIBURING_UDATA_TIMEOUT
