package talentmesh.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.io.ByteUnit;

/**
 * Local development Neo4j: embedded community DBMS with Bolt.
 *
 * <p>Usage: {@code Launcher HOME_DIR PID_FILE [BOLT_HOST:PORT [USERS_FILE]]} (default
 * 127.0.0.1:17687). The database files and Neo4j's own logs go under HOME_DIR. PID_FILE is written
 * only once the default database answers a query, and removed again on shutdown (SIGTERM or
 * SIGINT).
 *
 * <p>With USERS_FILE (lines {@code name:password}, written by dev/servers.sh with mode 0600),
 * authentication is on: before PID_FILE is written each user exists with that password (created
 * if missing, its password set if it differs), no password change required. Community edition
 * has no roles, so every user may do everything. Without it, authentication is off and any
 * credentials are accepted.
 */
public final class Launcher {
  private Launcher() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2 || args.length > 4) {
      System.err.println("usage: Launcher HOME_DIR PID_FILE [BOLT_HOST:PORT [USERS_FILE]]");
      System.exit(2);
    }
    Path home = Path.of(args[0]).toAbsolutePath();
    Path pidFile = Path.of(args[1]).toAbsolutePath();
    String bolt = args.length >= 3 ? args[2] : "127.0.0.1:17687";
    Path usersFile = args.length == 4 ? Path.of(args[3]).toAbsolutePath() : null;
    int colon = bolt.lastIndexOf(':');
    SocketAddress boltAddress =
        new SocketAddress(bolt.substring(0, colon), Integer.parseInt(bolt.substring(colon + 1)));

    Files.deleteIfExists(pidFile);
    DatabaseManagementService dbms =
        new DatabaseManagementServiceBuilder(home)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, boltAddress)
            .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
            .setConfig(HttpConnector.enabled, false)
            // Without a users file, no authentication: any client credentials are accepted.
            .setConfig(GraphDatabaseSettings.auth_enabled, usersFile != null)
            // Keep memory modest: the machine runs several servers side by side.
            .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(256))
            // Graphs here grow from nothing in seconds (every test and benchmark starts a fresh
            // namespace), and each jump in the statistics throws the cached plans away; on two
            // cores a replan costs a few hundred ms, seen as projection lag spikes. Plans are
            // revisited at most every ten minutes.
            .setConfig(GraphDatabaseSettings.cypher_min_replan_interval, Duration.ofMinutes(10))
            .build();

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  System.out.println("neo4j launcher: shutting down");
                  try {
                    dbms.shutdown();
                  } finally {
                    try {
                      Files.deleteIfExists(pidFile);
                    } catch (Exception ignored) {
                      // nothing more to do while the JVM exits
                    }
                    stopped.countDown();
                  }
                  System.out.println("neo4j launcher: stopped");
                },
                "neo4j-shutdown"));

    if (usersFile != null) {
      applyUsers(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), usersFile);
    }
    // Ready only when the default database answers a query.
    GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
    db.executeTransactionally("RETURN 1");
    Files.writeString(pidFile, ProcessHandle.current().pid() + "\n");
    System.out.println("neo4j launcher: ready, bolt://" + bolt + ", home " + home);
    stopped.await();
  }

  /**
   * Makes each {@code name:password} line of {@code usersFile} a user with that password. In-process
   * calls on the system database run without authentication, so this works on a fresh DBMS and on
   * one whose passwords changed. Passwords never reach the log.
   */
  private static void applyUsers(GraphDatabaseService system, Path usersFile) throws Exception {
    List<String> lines = Files.readAllLines(usersFile);
    int count = 0;
    for (String line : lines) {
      if (line.isBlank()) {
        continue;
      }
      int colon = line.indexOf(':');
      if (colon <= 0 || colon == line.length() - 1) {
        throw new IllegalArgumentException("users file: a line is not name:password");
      }
      Map<String, Object> params =
          Map.of("name", line.substring(0, colon), "password", line.substring(colon + 1));
      system.executeTransactionally(
          "CREATE USER $name IF NOT EXISTS SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED",
          params);
      try {
        system.executeTransactionally(
            "ALTER USER $name SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED", params);
      } catch (QueryExecutionException e) {
        // Neo4j refuses to set the password a user already has: nothing to change then.
        if (!e.getMessage().contains("cannot be the same")) {
          throw e;
        }
      }
      count++;
    }
    System.out.println("neo4j launcher: authentication on, " + count + " users");
  }
}
