package demo;

public final class Hello {
  private Hello() {}

  public static String greet(String name) {
    return "hello, " + name + " (" + Salt.VALUE + ")";
  }
}
