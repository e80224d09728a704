import java.net.HttpURLConnection;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One JVM for every case: each manifest line is "OPTIONS_FILE URL...", the file holding the case's JAVA_TOOL_OPTIONS
 * as sh left it. Its -D options are set as the JVM would set them at start (split at whitespace), and the JDK's
 * proxy selector reads them on every request, so each case is what a JVM started with those options would do.
 * argv[1] is "url" (HttpURLConnection) or "http" (java.net.http.HttpClient).
 */
public class JavaClient {
    public static void main(String[] args) throws Exception {
        System.setProperty("http.keepAlive", "false");
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            String[] words = line.split(" ");
            for (String option : Files.readString(Path.of(words[0])).trim().split("\\s+")) {
                if (option.startsWith("-D")) {
                    int equals = option.indexOf('=');
                    System.setProperty(option.substring(2, equals < 0 ? option.length() : equals), equals < 0 ? "" : option.substring(equals + 1));
                }
            }
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            for (String url : List.of(words).subList(1, words.length)) {
                try {
                    if (args[1].equals("url")) {
                        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
                        c.setConnectTimeout(10000);
                        c.setReadTimeout(10000);
                        c.getInputStream().readAllBytes();
                    } else {
                        client.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                    }
                } catch (Exception e) {
                    System.err.println(url + ": " + e);
                }
            }
            for (String option : Files.readString(Path.of(words[0])).trim().split("\\s+")) {
                if (option.startsWith("-D")) {
                    int equals = option.indexOf('=');
                    System.clearProperty(option.substring(2, equals < 0 ? option.length() : equals));
                }
            }
        }
    }
}
