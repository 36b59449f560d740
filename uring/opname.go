package uring

import "strconv"

// opNames are the kernel's names of the opcodes liburing 2.3 knows, keyed
// by the Go constant so that a renumbering cannot go unnoticed.
var opNames = [OpLast]string{
	OpNop: "IORING_OP_NOP", OpReadv: "IORING_OP_READV", OpWritev: "IORING_OP_WRITEV",
	OpFsync: "IORING_OP_FSYNC", OpReadFixed: "IORING_OP_READ_FIXED",
	OpWriteFixed: "IORING_OP_WRITE_FIXED", OpPollAdd: "IORING_OP_POLL_ADD",
	OpPollRemove: "IORING_OP_POLL_REMOVE", OpSyncFileRange: "IORING_OP_SYNC_FILE_RANGE",
	OpSendmsg: "IORING_OP_SENDMSG", OpRecvmsg: "IORING_OP_RECVMSG",
	OpTimeout: "IORING_OP_TIMEOUT", OpTimeoutRemove: "IORING_OP_TIMEOUT_REMOVE",
	OpAccept: "IORING_OP_ACCEPT", OpAsyncCancel: "IORING_OP_ASYNC_CANCEL",
	OpLinkTimeout: "IORING_OP_LINK_TIMEOUT", OpConnect: "IORING_OP_CONNECT",
	OpFallocate: "IORING_OP_FALLOCATE", OpOpenat: "IORING_OP_OPENAT",
	OpClose: "IORING_OP_CLOSE", OpFilesUpdate: "IORING_OP_FILES_UPDATE",
	OpStatx: "IORING_OP_STATX", OpRead: "IORING_OP_READ", OpWrite: "IORING_OP_WRITE",
	OpFadvise: "IORING_OP_FADVISE", OpMadvise: "IORING_OP_MADVISE",
	OpSend: "IORING_OP_SEND", OpRecv: "IORING_OP_RECV", OpOpenat2: "IORING_OP_OPENAT2",
	OpEpollCtl: "IORING_OP_EPOLL_CTL", OpSplice: "IORING_OP_SPLICE",
	OpProvideBuffers: "IORING_OP_PROVIDE_BUFFERS", OpRemoveBuffers: "IORING_OP_REMOVE_BUFFERS",
	OpTee: "IORING_OP_TEE", OpShutdown: "IORING_OP_SHUTDOWN",
	OpRenameat: "IORING_OP_RENAMEAT", OpUnlinkat: "IORING_OP_UNLINKAT",
	OpMkdirat: "IORING_OP_MKDIRAT", OpSymlinkat: "IORING_OP_SYMLINKAT",
	OpLinkat: "IORING_OP_LINKAT", OpMsgRing: "IORING_OP_MSG_RING",
	OpFsetxattr: "IORING_OP_FSETXATTR", OpSetxattr: "IORING_OP_SETXATTR",
	OpFgetxattr: "IORING_OP_FGETXATTR", OpGetxattr: "IORING_OP_GETXATTR",
	OpSocket: "IORING_OP_SOCKET", OpUringCmd: "IORING_OP_URING_CMD",
	OpSendZC: "IORING_OP_SEND_ZC", OpSendmsgZC: "IORING_OP_SENDMSG_ZC",
}

// OpName returns the kernel's name of opcode op ("IORING_OP_READ"), or
// "IORING_OP_<n>" for an opcode newer than liburing 2.3.
func OpName(op uint8) string {
	if int(op) < len(opNames) && opNames[op] != "" {
		return opNames[op]
	}
	return "IORING_OP_" + strconv.Itoa(int(op))
}
