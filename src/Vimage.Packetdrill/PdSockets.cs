using System.Runtime.InteropServices;
using Vimage.Net;
using Vimage.Net.Sockets;
using static Vimage.Packetdrill.LinuxAbi;

namespace Vimage.Packetdrill;

/// <summary>
/// The socket calls of packetdrill.h on Vimage sockets: a descriptor table (lowest free number from 3, as the
/// kernel's fdalloc) over <see cref="Socket"/>, Linux's constants in, FreeBSD's behaviour inside, errno out in
/// Linux's numbering through the C library's errno (so_testing.c reads errno after a -1).
/// </summary>
internal sealed unsafe class PdSockets(PdStack? stack)
{
    public const int MaxFds = 1024;
    private readonly Dictionary<int, Socket> _fds = [];

    public static int Fail(int linuxErrno)
    {
        Marshal.SetLastSystemError(linuxErrno);
        return -1;
    }

    /// <summary>Runs a call, mapping the stack's errors to -1 and errno.</summary>
    public static long Call(Func<long> body)
    {
        try
        {
            return body();
        }
        catch (NetSocketException e)
        {
            return Fail(ToLinux(e.Errno));
        }
        catch (ObjectDisposedException)
        {
            return Fail(EBADF);
        }
        catch (ArgumentException)
        {
            return Fail(EINVAL);
        }
        catch (InvalidOperationException)
        {
            return Fail(EINVAL);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Fail(5); // EIO: nothing the stack throws may cross into C (it would end the process)
        }
    }

    public Socket? Get(int fd)
    {
        lock (_fds)
        {
            return _fds.GetValueOrDefault(fd);
        }
    }

    private int Install(Socket so)
    {
        lock (_fds)
        {
            for (int fd = 3; fd < MaxFds; fd++)
            {
                if (!_fds.ContainsKey(fd))
                {
                    _fds[fd] = so;
                    return fd;
                }
            }
        }

        so.Close();
        return Fail(EMFILE);
    }

    public void CloseAll()
    {
        Socket[] all;
        lock (_fds)
        {
            all = [.. _fds.Values];
            _fds.Clear();
        }

        foreach (Socket so in all)
        {
            so.Close();
        }
    }

    public int Socket(int domain, int type, int protocol)
    {
        if (stack is null)
        {
            return Fail(100); // ENETDOWN: packetdrill_interface_init was not called, or free was
        }

        if (domain != AF_INET)
        {
            return Fail(EAFNOSUPPORT);
        }

        int baseType = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (baseType is not (SOCK_STREAM or SOCK_DGRAM))
        {
            return Fail(EPROTONOSUPPORT);
        }

        return (int)Call(() =>
        {
            Socket so = Vimage.Net.Sockets.Socket.Create(stack.Vnet, SaFamily.AF_INET, (SockType)baseType, protocol, "packetdrill");
            so.NonBlocking = (type & SOCK_NONBLOCK) != 0;
            return Install(so);
        });
    }

    public int Bind(int fd, void* addr, uint len)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        if (!TryReadSockaddrIn(addr, len, out Sockaddr sa))
        {
            return Fail(EINVAL);
        }

        return (int)Call(() =>
        {
            so.Bind(in sa);
            return 0;
        });
    }

    public int Listen(int fd, int backlog)
    {
        Socket? so = Get(fd);
        return so is null ? Fail(EBADF) : (int)Call(() =>
        {
            so.Listen(backlog);
            return 0;
        });
    }

    public int Accept(int fd, void* addr, uint* len)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        return (int)Call(() =>
        {
            Socket conn = so.Accept();
            WriteSockaddrIn(conn.RemoteAddress, addr, len);
            return Install(conn);
        });
    }

    public int Connect(int fd, void* addr, uint len)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        if (!TryReadSockaddrIn(addr, len, out Sockaddr sa))
        {
            return Fail(EINVAL);
        }

        return (int)Call(() =>
        {
            if (so.Type == SockType.SOCK_STREAM)
            {
                so.ConnectStream(in sa);
            }
            else
            {
                so.Connect(in sa);
            }

            return 0;
        });
    }

    /// <summary>recvfrom(2) and its relatives: MSG_DONTWAIT polls; MSG_PEEK and MSG_WAITALL on stream sockets (EOPNOTSUPP to peek a datagram).</summary>
    public long Receive(int fd, Span<byte> buffer, int flags, void* from, uint* fromLen)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        if ((flags & MSG_PEEK) != 0 && so.Type != SockType.SOCK_STREAM)
        {
            return Fail(EOPNOTSUPP);
        }

        byte[] tmp = new byte[buffer.Length];
        long n = Call(() =>
        {
            if (so.Type == SockType.SOCK_STREAM)
            {
                MsgFlags mf = ((flags & MSG_PEEK) != 0 ? MsgFlags.MSG_PEEK : 0) | ((flags & MSG_DONTWAIT) != 0 ? MsgFlags.MSG_DONTWAIT : 0)
                    | ((flags & MSG_WAITALL) != 0 ? MsgFlags.MSG_WAITALL : 0);
                if (fromLen != null)
                {
                    *fromLen = 0;
                }

                return so.ReceiveStream(tmp, mf);
            }

            SocketReceiveResult r = so.Receive(tmp, (flags & MSG_DONTWAIT) != 0 ? 0 : Timeout.Infinite);
            if (from != null && so.Type == SockType.SOCK_DGRAM)
            {
                WriteSockaddrIn(r.From, from, fromLen);
            }
            else if (fromLen != null)
            {
                *fromLen = 0;
            }

            return r.BytesReceived;
        });
        if (n > 0)
        {
            tmp.AsSpan(0, (int)n).CopyTo(buffer);
        }

        return n;
    }

    /// <summary>sendto(2) and its relatives (MSG_DONTWAIT polls once; MSG_NOSIGNAL: there is no SIGPIPE here anyway).</summary>
    public long Send(int fd, ReadOnlySpan<byte> data, int flags, void* to, uint toLen)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        Sockaddr dst = default;
        bool explicitTo = to != null;
        if (explicitTo && !TryReadSockaddrIn(to, toLen, out dst))
        {
            return Fail(EINVAL);
        }

        byte[] copy = data.ToArray();
        return Call(() =>
        {
            if (so.Type == SockType.SOCK_STREAM)
            {
                return so.SendStream(copy, (flags & MSG_DONTWAIT) != 0 ? 0 : Timeout.Infinite);
            }

            return explicitTo ? so.SendTo(copy, in dst) : so.Send(copy);
        });
    }

    public int Close(int fd)
    {
        Socket? so;
        lock (_fds)
        {
            if (!_fds.Remove(fd, out so))
            {
                return Fail(EBADF);
            }
        }

        return (int)Call(() =>
        {
            so.Close();
            return 0;
        });
    }

    public int Shutdown(int fd, int how)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        return how is < 0 or > 2 ? Fail(EINVAL) : (int)Call(() =>
        {
            so.Shutdown((ShutdownHow)how);
            return 0;
        });
    }

    public int Fcntl(int fd, int cmd, long arg)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        switch (cmd)
        {
            case F_GETFL:
                return O_RDWR | (so.NonBlocking ? O_NONBLOCK : 0);
            case F_SETFL:
                so.NonBlocking = (arg & O_NONBLOCK) != 0;
                return 0;
            case 1 or 2: // F_GETFD, F_SETFD: no exec here
                return 0;
            default:
                return Fail(EINVAL);
        }
    }

    public int Ioctl(int fd, ulong request, void* arg)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        if (arg == null)
        {
            return Fail(EFAULT);
        }

        switch (request)
        {
            case FIONREAD:
                *(int*)arg = so.Available;
                return 0;
            case FIONBIO:
                so.NonBlocking = *(int*)arg != 0;
                return 0;
            default:
                return Fail(25); // ENOTTY
        }
    }

    public int GetSockOpt(int fd, int level, int name, void* value, uint* len)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        if (value == null || len == null || *len < 4)
        {
            return Fail(EINVAL);
        }

        return (int)Call(() =>
        {
            if (level == SOL_SOCKET && name == SO_LINGER)
            {
                if (*len < 8)
                {
                    return Fail(EINVAL);
                }

                int secs = so.LingerSeconds;
                ((int*)value)[0] = secs >= 0 ? 1 : 0;
                ((int*)value)[1] = Math.Max(0, secs);
                *len = 8;
                return 0;
            }

            int v;
            if (level == SOL_SOCKET)
            {
                SoOption? opt = MapSoOption(name);
                if (opt is null)
                {
                    return Fail(ENOPROTOOPT);
                }

                v = so.GetOption(opt.Value);
                if (opt == SoOption.SO_ERROR)
                {
                    v = ToLinux(v);
                }
            }
            else
            {
                (int fbLevel, int fbName)? p = MapProtoOption(level, name);
                if (p is null)
                {
                    return Fail(ENOPROTOOPT);
                }

                v = so.ProtocolOption(p.Value.fbLevel, p.Value.fbName, false, 0);
                if (level == IPPROTO_TCP && name == TCP_NODELAY)
                {
                    v = v != 0 ? 1 : 0;
                }
            }

            *(int*)value = v;
            *len = 4;
            return 0;
        });
    }

    public int SetSockOpt(int fd, int level, int name, void* value, uint len)
    {
        Socket? so = Get(fd);
        if (so is null)
        {
            return Fail(EBADF);
        }

        if (value == null || len < 4)
        {
            return Fail(EINVAL);
        }

        return (int)Call(() =>
        {
            int v = *(int*)value;
            if (level == SOL_SOCKET && name == SO_LINGER)
            {
                if (len < 8)
                {
                    return Fail(EINVAL);
                }

                so.LingerSeconds = v != 0 ? ((int*)value)[1] : -1;
                return 0;
            }

            if (level == SOL_SOCKET)
            {
                SoOption? opt = MapSoOption(name);
                if (opt is null or SoOption.SO_ERROR or SoOption.SO_TYPE or SoOption.SO_ACCEPTCONN)
                {
                    return Fail(ENOPROTOOPT);
                }

                so.SetOption(opt.Value, v);
                return 0;
            }

            (int fbLevel, int fbName)? p = MapProtoOption(level, name);
            if (p is null)
            {
                return Fail(ENOPROTOOPT);
            }

            so.ProtocolOption(p.Value.fbLevel, p.Value.fbName, true, v);
            return 0;
        });
    }

    private static SoOption? MapSoOption(int linux) => linux switch
    {
        SO_REUSEADDR => SoOption.SO_REUSEADDR,
        SO_TYPE => SoOption.SO_TYPE,
        SO_ERROR => SoOption.SO_ERROR,
        SO_BROADCAST => SoOption.SO_BROADCAST,
        SO_SNDBUF => SoOption.SO_SNDBUF,
        SO_RCVBUF => SoOption.SO_RCVBUF,
        SO_KEEPALIVE => SoOption.SO_KEEPALIVE,
        SO_REUSEPORT => SoOption.SO_REUSEPORT,
        SO_RCVLOWAT => SoOption.SO_RCVLOWAT,
        SO_SNDLOWAT => SoOption.SO_SNDLOWAT,
        SO_ACCEPTCONN => SoOption.SO_ACCEPTCONN,
        _ => null,
    };

    /// <summary>Linux's (level, name) → FreeBSD's (netinet/tcp.h, netinet/in.h).</summary>
    private static (int, int)? MapProtoOption(int level, int name) => (level, name) switch
    {
        (IPPROTO_TCP, TCP_NODELAY) => (6, 1),
        (IPPROTO_TCP, TCP_MAXSEG) => (6, 2),
        (IPPROTO_TCP, TCP_CORK) => (6, 4),        // TCP_NOPUSH
        (IPPROTO_TCP, TCP_KEEPIDLE) => (6, 256),
        (IPPROTO_TCP, TCP_KEEPINTVL) => (6, 512),
        (IPPROTO_TCP, TCP_KEEPCNT) => (6, 1024),
        (IPPROTO_IP, 1) => (0, 3),                // IP_TOS
        (IPPROTO_IP, 2) => (0, 4),                // IP_TTL
        _ => null,
    };

    /// <summary>What poll(2) would report for <paramref name="so"/> now (sopoll_generic's conditions).</summary>
    public static short Revents(Socket so, short events)
    {
        short r = 0;
        SocketState st = so.State;
        bool cantRcv = (st & SocketState.SS_CANTRCVMORE) != 0;
        bool cantSend = (st & SocketState.SS_CANTSENDMORE) != 0;
        if (so.IsListening)
        {
            if (so.AcceptQueueLength > 0)
            {
                r |= POLLIN;
            }
        }
        else
        {
            if (so.Available > 0 || cantRcv)
            {
                r |= POLLIN;
            }

            if (cantRcv)
            {
                r |= POLLRDHUP;
            }

            bool connected = (st & SocketState.SS_ISCONNECTED) != 0 || so.Type == SockType.SOCK_DGRAM;
            if (connected && !cantSend && so.Snd.Hiwat - so.SendQueued >= so.Snd.Lowat)
            {
                r |= POLLOUT;
            }

            if ((st & SocketState.SS_ISDISCONNECTED) != 0 && cantRcv && cantSend)
            {
                r |= POLLHUP;
            }
        }

        return (short)(r & (events | POLLHUP | POLLERR | POLLNVAL));
    }

    /// <summary>poll(2): a timeout counts virtual time (the clock packetdrill's script runs on).</summary>
    public int Poll(PollFd* fds, ulong n, int timeoutMs)
    {
        if (n > MaxFds || (fds == null && n > 0))
        {
            return Fail(EINVAL);
        }

        long deadline = timeoutMs < 0 ? long.MaxValue : NetTimers.NowUs + (timeoutMs * 1000L);
        while (true)
        {
            int ready = 0;
            for (ulong i = 0; i < n; i++)
            {
                Socket? so = fds[i].Fd < 0 ? null : Get(fds[i].Fd);
                fds[i].Revents = fds[i].Fd < 0 ? (short)0 : so is null ? POLLNVAL : Revents(so, fds[i].Events);
                if (fds[i].Revents != 0)
                {
                    ready++;
                }
            }

            if (ready > 0 || NetTimers.NowUs >= deadline)
            {
                return ready;
            }

            Thread.Sleep(1); // another thread moves the stack or the clock
        }
    }
}
