using Vimage.Core;

namespace Vimage.Net.Inet;

/// <summary>struct xinpcb's part netstat and sockstat print: the two ends and the bytes queued each way.</summary>
public readonly record struct XInpcb(PcbEnds Ends, int RecvQ, int SendQ);
