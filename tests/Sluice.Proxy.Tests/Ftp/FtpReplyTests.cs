using System.Net;
using System.Text;
using Sluice.Proxy.Ftp;

namespace Sluice.Proxy.Tests.Ftp;

public sealed class FtpReplyTests
{
    [Theory]
    [InlineData("Entering Passive Mode (127,0,0,1,195,80).", "127.0.0.1", 50000)]
    [InlineData("Entering Passive Mode 127,0,0,1,195,80", "127.0.0.1", 50000)]
    [InlineData("=127,0,0,1,0,21", "127.0.0.1", 21)]
    [InlineData("Entering Passive Mode (192,0,2,7,255,255)", "192.0.2.7", 65535)]
    [InlineData("Passive (v2 1,2,3,4,5,6)", "1.2.3.4", 1286)] // the numbers are found wherever they are
    public void A_227_reply_names_an_address_and_a_port(string text, string address, int port)
    {
        Assert.True(FtpReply.TryParsePassive(text, out IPAddress parsed, out int parsedPort));
        Assert.Equal(IPAddress.Parse(address), parsed);
        Assert.Equal(port, parsedPort);
    }

    [Theory]
    [InlineData("Entering Passive Mode")]
    [InlineData("Entering Passive Mode (127,0,0,1,195)")]
    [InlineData("Entering Passive Mode (127,0,0,256,195,80)")]
    [InlineData("Entering Passive Mode (127,0,0,1,0,0)")] // port 0
    [InlineData("Entering Passive Mode (1270,0,0,1,195,80)")]
    [InlineData("Entering Passive Mode (127,0,0,1,195,8000)")]
    [InlineData("(127,0,0,1,,80)")]
    public void A_227_reply_without_six_valid_numbers_names_nothing(string text) =>
        Assert.False(FtpReply.TryParsePassive(text, out _, out _));

    [Theory]
    [InlineData("Entering Extended Passive Mode (|||50000|)", 50000)]
    [InlineData("Entering Extended Passive Mode (!!!1!)", 1)]
    [InlineData("ok (|||65535|).", 65535)]
    public void A_229_reply_names_a_port(string text, int port)
    {
        Assert.True(FtpReply.TryParseExtendedPassive(text, out int parsed));
        Assert.Equal(port, parsed);
    }

    [Theory]
    [InlineData("Entering Extended Passive Mode (|||0|)")]
    [InlineData("Entering Extended Passive Mode (|||65536|)")]
    [InlineData("Entering Extended Passive Mode (||1|50000|)")] // a network protocol and address: not the EPSV answer
    [InlineData("Entering Extended Passive Mode (|||50000)")]
    [InlineData("Entering Extended Passive Mode (111500001)")] // a digit cannot be the delimiter
    [InlineData("Entering Extended Passive Mode (|||5a000|)")]
    [InlineData("Entering Extended Passive Mode")]
    public void A_229_reply_without_a_well_formed_port_names_nothing(string text) =>
        Assert.False(FtpReply.TryParseExtendedPassive(text, out _));

    [Fact]
    public void Replies_are_read_however_the_bytes_are_split()
    {
        byte[] stream = Encoding.ASCII.GetBytes("220 ready\r\n331 password please\r\n230-Welcome\r\n230-  to the server\r\n 230 not the end\r\n230 Logged in\r\n227 Entering Passive Mode (127,0,0,1,195,80)\n");
        for (int split = 1; split < stream.Length; split++)
        {
            var reader = new FtpReplyReader();
            reader.Feed(stream.AsSpan(0, split));
            reader.Feed(stream.AsSpan(split));
            var replies = new List<FtpReply>();
            while (reader.TryTake(out FtpReply reply))
            {
                replies.Add(reply);
            }

            Assert.Equal([220, 331, 230, 227], replies.Select(r => r.Code));
            Assert.Equal("Welcome\n  to the server\n 230 not the end\nLogged in", replies[2].Text);
            Assert.Equal("Entering Passive Mode (127,0,0,1,195,80)", replies[3].Text);
        }
    }

    [Fact]
    public void A_line_that_is_not_a_reply_is_reported_as_malformed_and_reading_goes_on()
    {
        var reader = new FtpReplyReader();
        reader.Feed("hello\r\n2000 no\r\n200 ok\r\n"u8);
        Assert.True(reader.TryTake(out FtpReply first));
        Assert.True(first.IsMalformed);
        Assert.True(reader.TryTake(out FtpReply second));
        Assert.True(second.IsMalformed);
        Assert.True(reader.TryTake(out FtpReply third));
        Assert.Equal(200, third.Code);
    }

    [Fact]
    public void A_server_that_never_ends_a_line_or_a_reply_is_held_to_the_bounds()
    {
        var reader = new FtpReplyReader();
        byte[] chunk = new byte[1 << 16];
        chunk.AsSpan().Fill((byte)'x');
        reader.Feed("211-"u8);
        for (int i = 0; i < 64; i++)
        {
            reader.Feed(chunk); // 4 MiB on one line
        }

        reader.Feed("\r\n"u8);
        for (int i = 0; i < 1000; i++)
        {
            reader.Feed(Encoding.ASCII.GetBytes(new string('y', 1000) + "\r\n"));
        }

        Assert.Equal(0, reader.Count); // still inside the multi-line reply
        reader.Feed("211 End\r\n"u8);
        Assert.True(reader.TryTake(out FtpReply reply));
        Assert.Equal(211, reply.Code);
        Assert.True(reply.Truncated);
        Assert.True(reply.Text.Length <= FtpReplyReader.MaxReply);
    }
}
