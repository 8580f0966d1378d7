using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Vimage.AspNetCore.Tests.Grpc;
using Vimage.Http;

namespace Vimage.AspNetCore.Tests;

/// <summary>
/// Grpc.AspNetCore in the server vnet, Grpc.Net.Client (over VnetHttp.Handler) in the client vnet. With VIMAGE the
/// two are routed through a third vnet (two epairs, default routes, forwarding on); without, both are vnet0.
/// </summary>
public sealed class GrpcTests
{
    private static async Task<(VnetNet Net, Microsoft.AspNetCore.Builder.WebApplication App, GrpcChannel Channel)> Start(string name, int port)
    {
        var net = VnetNet.Create(name, routed: true);
        WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, port, a => a.MapGrpcService<EchoService>(),
            listen: o => o.Protocols = HttpProtocols.Http2, services: s => s.AddGrpc());
        net.AddHost("echo.grpc.test");
        GrpcChannel channel = GrpcChannel.ForAddress($"http://echo.grpc.test:{port}", new GrpcChannelOptions { HttpHandler = VnetHttp.Handler(net.Client) });
        return (net, app, channel);
    }

    [Fact]
    public async Task Unary_calls_across_a_router()
    {
        (VnetNet net, WebApplication app, GrpcChannel channel) = await Start("grpcu", 5001);
        using (net)
        await using (app)
        using (channel)
        {
            var client = new Echo.EchoClient(channel);
            byte[] payload = new byte[200_000];
            Random.Shared.NextBytes(payload);
            EchoReply reply = await Wait.Bounded(client.SayAsync(new EchoRequest { Text = "hi", Payload = ByteString.CopyFrom(payload) }).ResponseAsync, "a unary call");
            Assert.Equal("hi", reply.Text);
            Assert.Equal(payload, reply.Payload.ToByteArray());
            Assert.StartsWith($"ipv4:{net.PeerAddress}:", reply.Peer);

            for (int i = 0; i < 50; i++)
            {
                Assert.Equal($"n{i}", (await client.SayAsync(new EchoRequest { Text = $"n{i}" })).Text);
            }

            await Wait.Bounded(app.StopAsync(), "the app to stop");
        }
    }

    [Fact]
    public async Task Bidirectional_streaming_across_a_router()
    {
        (VnetNet net, WebApplication app, GrpcChannel channel) = await Start("grpcs", 5002);
        using (net)
        await using (app)
        using (channel)
        {
            var client = new Echo.EchoClient(channel);
            using AsyncDuplexStreamingCall<EchoRequest, EchoReply> call = client.Chat();
            byte[] payload = new byte[64 * 1024];
            for (int i = 0; i < 40; i++)
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Text = $"msg{i}", Payload = ByteString.CopyFrom(payload) });
                Assert.True(await Wait.Bounded(call.ResponseStream.MoveNext(CancellationToken.None), "a streamed reply"));
                Assert.Equal($"MSG{i}", call.ResponseStream.Current.Text);
                Assert.Equal(payload.Length, call.ResponseStream.Current.Payload.Length);
            }

            await call.RequestStream.CompleteAsync();
            Assert.False(await Wait.Bounded(call.ResponseStream.MoveNext(CancellationToken.None), "the end of the stream"));
            Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
            await Wait.Bounded(app.StopAsync(), "the app to stop");
        }
    }
}
