/*
 * TlsPeer: one side of an mTLS handshake in Java, for test_keymat.py.
 *
 * Loads a PKCS#12 keystore and a PKCS#12 truststore the way Kafka and
 * other JSSE users do (KeyStore.getInstance("PKCS12")), then either
 * accepts one connection (server) or makes one (client), requires the
 * peer's certificate, exchanges a line and prints what it saw.  Passwords
 * are read from files, never taken from the command line.
 *
 *   java TlsPeer.java server PORT KEYSTORE KSPASSFILE TRUSTSTORE TSPASSFILE
 *   java TlsPeer.java client PORT KEYSTORE KSPASSFILE TRUSTSTORE TSPASSFILE
 */
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsPeer {
    static char[] password(String file) throws Exception {
        return Files.readString(Path.of(file)).strip().toCharArray();
    }

    static KeyStore load(String file, char[] pass) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(file)) {
            ks.load(in, pass);
        }
        return ks;
    }

    public static void main(String[] a) throws Exception {
        char[] kspass = password(a[3]), tspass = password(a[5]);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
        kmf.init(load(a[2], kspass), kspass);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(load(a[4], tspass));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        int port = Integer.parseInt(a[1]);
        SSLSocket s;
        SSLServerSocket ss = null;
        if (a[0].equals("server")) {
            ss = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(port, 1,
                java.net.InetAddress.getByName("127.0.0.1"));
            ss.setNeedClientAuth(true);
            System.out.println("listening on " + port);
            System.out.flush();
            s = (SSLSocket) ss.accept();
        } else {
            s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port);
        }
        s.setSoTimeout(20000);
        s.startHandshake();
        X509Certificate peer = (X509Certificate) s.getSession().getPeerCertificates()[0];
        System.out.println("peer: " + peer.getSubjectX500Principal().getName());
        OutputStream out = s.getOutputStream();
        out.write(("hello from java " + a[0] + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(),
            StandardCharsets.UTF_8));
        System.out.println("read: " + in.readLine());
        System.out.println("handshake ok");
        System.out.flush();
        s.close();
        if (ss != null)
            ss.close();
    }
}
